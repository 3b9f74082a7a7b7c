// Verifies a Sigstore bundle with @sigstore/verify (sigstore-js: an implementation independent of the
// sigstore-python that signed it). Usage: node verify.js TRUSTED_ROOT.json BUNDLE.json [IDENTITY] [ISSUER]
// Prints the DSSE payload (the signed statement) as JSON on success; exits 1 with the reason otherwise.
'use strict';
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const [rootPath, bundlePath, identity, issuer] = process.argv.slice(2);
try {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8')));
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const verifier = new Verifier(toTrustMaterial(root), { tlogThreshold: 1, ctlogThreshold: 1, tsaThreshold: 0 });
  const policy = {};
  if (identity) policy.subjectAlternativeName = identity;
  if (issuer) policy.extensions = { issuer };
  const signer = verifier.verify(toSignedEntity(bundle), policy);
  const envelope = bundle.content.dsseEnvelope;
  process.stdout.write(
    JSON.stringify({
      payloadType: envelope.payloadType,
      payload: JSON.parse(Buffer.from(envelope.payload).toString('utf8')),
      identity: signer.identity,
    }) + '\n',
  );
} catch (e) {
  process.stderr.write(`verify: ${e.code || ''} ${e.message}\n`);
  process.exit(1);
}
