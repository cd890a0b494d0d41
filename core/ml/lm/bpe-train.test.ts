import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { byteAlphabet, byteLevelTokenizerJson, learnMerges } from './bpe-train.js';

describe('byte-level BPE vocabulary', () => {
  it("uses GPT-2's byte alphabet", () => {
    const { order, charOf } = byteAlphabet();
    expect(order.length).toBe(256);
    expect(new Set(order).size).toBe(256);
    expect(charOf[0x20]).toBe('Ġ');
    expect(charOf[0x0a]).toBe('Ċ');
    expect(charOf[0x41]).toBe('A');
  });

  it('learns merges that @huggingface/tokenizers applies, and decodes losslessly', () => {
    const text = ['the pleural effusion is small', 'no pleural effusion', 'a pleural effusion on the left'];
    const merges = learnMerges(text, 30);
    // 'a l' (pleural ×3, small) and 'o n' (effusion ×3, on) both occur 4 times: the smaller pair wins
    expect(merges[0]).toEqual(['a', 'l']);
    const tokenizer = new Tokenizer(byteLevelTokenizerJson(merges, ['<|endoftext|>']), {});
    const encoded = tokenizer.encode(' pleural effusion');
    expect(encoded.tokens).toEqual(['Ġpleural', 'Ġeffusion']);
    const odd = 'Ünïcode 42 — ok?\n';
    expect(tokenizer.decode(tokenizer.encode(odd).ids)).toBe(odd);
    expect(tokenizer.token_to_id('<|endoftext|>')).toBe(256 + merges.length);
    expect(learnMerges(text, 30)).toEqual(merges); // deterministic
  });
});
