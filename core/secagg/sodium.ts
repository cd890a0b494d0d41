import sodium from 'libsodium-wrappers-sumo';

// Top-level await: every secagg module that imports this one can use libsodium synchronously, which keeps
// the stage handlers free of "is the WASM loaded yet" branches. The WASM loads once per thread.
await sodium.ready;

/** libsodium (sumo build: it is the one that exports `crypto_stream_chacha20_ietf_xor_ic`), ready to use. */
export { sodium };
