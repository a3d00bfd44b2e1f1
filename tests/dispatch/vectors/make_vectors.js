// Known-answer vectors for tests/dispatch/test_crypto.py, produced by the reference tweetnacl.
//
//   mkdir -p /tmp/tn && cd /tmp/tn && npm init -y && npm install tweetnacl@1.0.3
//   NODE_PATH=/tmp/tn/node_modules node tests/dispatch/vectors/make_vectors.js
//
// Fixed inputs: Alice's secret key is bytes 1..32, Bob's is bytes 33..64, the nonce is bytes
// 100..123. Base64 is Node's Buffer encoding: the standard alphabet, with padding.
"use strict";
const nacl = require("tweetnacl");
const crypto = require("crypto");

const range = (start, n) => Uint8Array.from({ length: n }, (_, i) => start + i);
const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const fingerprint = (pubB64) =>
  crypto.createHash("sha256").update(pubB64, "utf8").digest("hex").slice(0, 16);

const alice = nacl.box.keyPair.fromSecretKey(range(1, 32));
const bob = nacl.box.keyPair.fromSecretKey(range(33, 32));
const nonce = range(100, nacl.box.nonceLength);

const messages = {
  hello: "hello",
  empty: "",
  json: JSON.stringify({ title: "Résumé ✓", description: "naïve 日本語", payload: { n: 1 } }),
};

const out = {
  alice_secret: b64(alice.secretKey),
  alice_public: b64(alice.publicKey),
  alice_fingerprint: fingerprint(b64(alice.publicKey)),
  bob_secret: b64(bob.secretKey),
  bob_public: b64(bob.publicKey),
  bob_fingerprint: fingerprint(b64(bob.publicKey)),
  nonce: b64(nonce),
  alice_to_bob: {},
};
for (const [name, text] of Object.entries(messages)) {
  const msg = Buffer.from(text, "utf8");
  out.alice_to_bob[name] = b64(nacl.box(msg, nonce, bob.publicKey, alice.secretKey));
}
out.messages = messages;
console.log(JSON.stringify(out, null, 2));
