// Fulcio, Rekor (v1) and a timestamp authority from the Sigstore project's own mocks (@sigstore/mock), served
// over plain HTTP on 127.0.0.1:<random port>. Prints one JSON line on stdout once listening: the base URL and a
// ClientTrustConfig (trusted root + signing config) naming the mocks, the way sigstore-python reads it. Lives
// until killed. Used by tests/sigstore.py.
'use strict';
const http = require('http');
const crypto = require('crypto');
const mock = require('@sigstore/mock');
const { generateKeyPair } = require('@sigstore/mock/dist/util/key');

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const VALID = { start: '2020-01-01T00:00:00Z' };

// What Rekor v1 stores for a proposed `dsse` entry (rekor pkg/types/dsse/v0.0.1 Canonicalize): the hashes of the
// envelope and its payload and the signatures with their verifiers, not the proposed content. The mock stores what
// it is given, so it is given this.
function rekorBody(proposed) {
  if (proposed.kind !== 'dsse' || !proposed.spec || !proposed.spec.proposedContent) return proposed;
  const { envelope, verifiers } = proposed.spec.proposedContent;
  const parsed = JSON.parse(envelope);
  const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(parsed.payload, 'base64')) },
      signatures: parsed.signatures.map((s) => ({ signature: s.sig, verifier: verifiers[0] })),
    },
  };
}

async function main() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;

  const ctlog = await mock.initializeCTLog(generateKeyPair('prime256v1'));
  const ca = await mock.initializeCA(generateKeyPair('prime256v1'), ctlog);
  const tlog = await mock.initializeTLog(url, generateKeyPair('prime256v1'));
  const tsa = await mock.initializeTSA(generateKeyPair('prime256v1'));
  const handlers = [mock.fulcioHandler(ca), mock.rekorHandler(tlog), mock.tsaHandler(tsa)];

  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const handler = handlers.find((h) => h.path === req.url.split('?')[0]);
      if (req.method !== 'POST' || !handler) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end(`no mock for ${req.method} ${req.url}`);
        return;
      }
      const body = Buffer.concat(chunks);
      // the TSA takes DER bytes; Fulcio and Rekor take JSON
      let input = handler === handlers[2] ? body : body.toString('utf8');
      if (handler === handlers[0]) {
        // Fulcio takes the OIDC token in the body or, as sigstore-python sends it, as the bearer token
        const request = JSON.parse(input);
        const bearer = (req.headers.authorization || '').replace(/^Bearer /, '');
        request.credentials = request.credentials || { oidcIdentityToken: bearer };
        // and the CSR as base64 of its PEM (Fulcio's API); the mock parses PEM
        const csr = request.certificateSigningRequest;
        if (csr && !csr.startsWith('-----BEGIN')) {
          request.certificateSigningRequest = Buffer.from(csr, 'base64').toString('utf8');
        }
        input = JSON.stringify(request);
      }
      if (handler === handlers[1]) input = JSON.stringify(rekorBody(JSON.parse(input)));
      const out = await handler.fn(input);
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType || 'text/plain' });
      res.end(Buffer.from(typeof out.response === 'string' ? out.response : Buffer.from(out.response.buffer, out.response.byteOffset, out.response.byteLength)));
    });
  });

  const tlogId = crypto.createHash('sha256').update(tlog.publicKey).digest();
  const key = (raw) => ({ rawBytes: b64(raw), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: VALID });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: url, hashAlgorithm: 'SHA2_256', publicKey: key(tlog.publicKey), logId: { keyId: b64(tlogId) } }],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore-mock', commonName: 'fulcio' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: VALID,
      },
    ],
    ctlogs: [
      { baseUrl: url, hashAlgorithm: 'SHA2_256', publicKey: key(ctlog.publicKey), logId: { keyId: b64(ctlog.logID) } },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore-mock', commonName: 'tsa' },
        uri: `${url}/api/v1/timestamp`,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: VALID,
      },
    ],
  };
  const service = (u) => ({ url: u, majorApiVersion: 1, validFor: VALID, operator: 'sigstore-mock' });
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [service(url)],
    oidcUrls: [],
    rekorTlogUrls: [service(url)],
    // the mock TSA reads sigstore-js's JSON requests, not the RFC 3161 DER sigstore-python sends: the signing
    // time comes from Rekor's integrated time (the verifier's tsaThreshold is 0)
    tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const trustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig,
  };
  process.stdout.write(JSON.stringify({ url, trustConfig }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`mock-server: ${e.stack || e}\n`);
  process.exit(1);
});
