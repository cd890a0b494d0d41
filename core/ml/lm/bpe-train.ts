/**
 * Learns the merges of a byte-level BPE vocabulary (GPT-2's scheme) from a corpus and writes them as a
 * Hugging Face `tokenizer.json`. This only *builds* a vocabulary, once, for the default LM; text is
 * always tokenised by @huggingface/tokenizers reading the file. The pre-tokenisation here is the same
 * GPT-2 pattern the library's ByteLevel pre-tokenizer applies, so the merges see the same words.
 */

/** GPT-2's pre-tokenisation pattern (contractions, letters, digits, other symbols, spaces). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character map, as (bytes in vocabulary order, character of each byte). */
export function byteAlphabet(): { order: number[]; charOf: string[] } {
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  const charOf = new Array<string>(256);
  for (const b of order) charOf[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (charOf[b] === undefined) {
      order.push(b);
      charOf[b] = String.fromCodePoint(256 + n++);
    }
  }
  return { order, charOf };
}

/** Greedy BPE: repeatedly merges the most frequent adjacent pair (ties: the smaller pair string). */
export function learnMerges(texts: Iterable<string>, numMerges: number): [string, string][] {
  const { charOf } = byteAlphabet();
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) {
      const piece = Array.from(encoder.encode(m[0]), (b) => charOf[b]!).join('\u0000');
      counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
  }
  let words = [...counts].map(([w, c]) => ({ symbols: w.split('\u0000'), count: c }));
  const merges: [string, string][] = [];
  while (merges.length < numMerges) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best = '';
    let bestCount = 1; // a pair seen once is not worth a token
    for (const [key, c] of pairs)
      if (c > bestCount || (c === bestCount && best !== '' && key < best)) [best, bestCount] = [key, c];
    if (!best) break;
    const [a, b] = best.split(' ') as [string, string];
    merges.push([a, b]);
    words = words.map(({ symbols, count }) => {
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(symbols[i]!);
      }
      return { symbols: out, count };
    });
  }
  return merges;
}

/** A byte-level BPE tokenizer.json: 256 byte symbols, one token per merge, then the special tokens. */
export function byteLevelTokenizerJson(
  merges: [string, string][],
  specials: string[],
): Record<string, unknown> {
  const { order, charOf } = byteAlphabet();
  const vocab: Record<string, number> = {};
  let next = 0;
  for (const b of order) vocab[charOf[b]!] = next++;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = next++;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, i) => ({
      id: next + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
