// typage (npm age-encryption, the TypeScript age by age's author) as a hybrid post-quantum peer
// for core/tests/suite/typage.rs. Usage: node peer.mjs keygen | encrypt RECIPIENT | decrypt IDENTITY
// (file on stdin, result on stdout).
import * as age from "age-encryption";

async function stdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

const [command, key] = process.argv.slice(2);
if (command === "keygen") {
  const identity = await age.generateHybridIdentity();
  process.stdout.write(`${identity}\n${await age.identityToRecipient(identity)}\n`);
} else if (command === "encrypt") {
  const encrypter = new age.Encrypter();
  encrypter.addRecipient(key);
  process.stdout.write(await encrypter.encrypt(await stdin()));
} else if (command === "decrypt") {
  const decrypter = new age.Decrypter();
  decrypter.addIdentity(key);
  process.stdout.write(await decrypter.decrypt(await stdin()));
} else {
  process.stderr.write("usage: node peer.mjs keygen | encrypt RECIPIENT | decrypt IDENTITY\n");
  process.exit(2);
}
