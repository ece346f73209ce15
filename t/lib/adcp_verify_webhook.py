#!/usr/bin/env python3
#
# A second, independent verifier of the module's RFC 9421 webhook
# signatures (AdCP's webhook profile), on Python's `cryptography`
# (Debian python3-cryptography).  It rebuilds the signature base itself
# from the request it is given and verifies against a published JWKS.
#
#   adcp_verify_webhook.py <request.json>
#
# request.json: {"jwks": {...} | "jwks_file": path, "method", "target_uri",
#   "authority", "content_type", "content_digest", "signature_input",
#   "signature", "body"}
# Prints "verified" and exits 0, or says why not and exits 1.

import base64
import hashlib
import json
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils


def b64url(s):
    if not re.fullmatch(r'[A-Za-z0-9_-]*', s):
        raise ValueError('not unpadded base64url: %r' % s)
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def fail(why):
    print(why)
    sys.exit(1)


def main():
    d = json.load(open(sys.argv[1]))
    jwks = d['jwks'] if 'jwks' in d else json.load(open(d['jwks_file']))

    m = re.fullmatch(r'sig1=(\((?:"[^"]+"(?: "[^"]+")*)\)'
                     r'(?:;[a-z]+=(?:"[^"]*"|[0-9]+))*)', d['signature_input'])
    if not m:
        fail('Signature-Input malformed: %r' % d['signature_input'])
    params = m.group(1)
    comps = re.findall(r'"([^"]+)"', params.split(')')[0])
    if comps != ['@method', '@target-uri', '@authority', 'content-type',
                 'content-digest']:
        fail('covered components: %r' % comps)
    p = dict(re.findall(r';([a-z]+)=("[^"]*"|[0-9]+)', params))
    p = {k: v.strip('"') for k, v in p.items()}
    if p.get('tag') != 'adcp/webhook-signing/v1':
        fail('tag: %r' % p.get('tag'))
    created, expires = int(p['created']), int(p['expires'])
    if not 0 < expires - created <= 300:
        fail('window: %d..%d' % (created, expires))
    if len(b64url(p['nonce'])) < 16:
        fail('nonce too short')

    keys = [k for k in jwks['keys'] if k.get('kid') == p['keyid']]
    if len(keys) != 1:
        fail('keyid %r: %d keys in the JWKS' % (p['keyid'], len(keys)))
    k = keys[0]
    if (k.get('use') != 'sig' or 'verify' not in k.get('key_ops', [])
            or k.get('adcp_use') != 'request-signing'):
        fail('JWK purpose: %r' % k)

    digest = base64.b64encode(
        hashlib.sha256(d['body'].encode()).digest()).decode()
    if d['content_digest'] != 'sha-256=:%s:' % digest:
        fail('Content-Digest %r, body digest %r' % (d['content_digest'],
                                                     digest))

    base = ('"@method": %s\n"@target-uri": %s\n"@authority": %s\n'
            '"content-type": %s\n"content-digest": %s\n'
            '"@signature-params": %s' % (
                d['method'], d['target_uri'], d['authority'],
                d['content_type'], d['content_digest'], params)).encode()

    sm = re.fullmatch(r'sig1=:([A-Za-z0-9_-]+):', d['signature'])
    if not sm:
        fail('Signature malformed: %r' % d['signature'])
    sig = b64url(sm.group(1))

    try:
        if k['kty'] == 'OKP':
            if (k['crv'], k['alg'], p['alg']) != ('Ed25519', 'EdDSA',
                                                  'ed25519'):
                fail('alg: %r %r' % (k, p['alg']))
            ed25519.Ed25519PublicKey.from_public_bytes(
                b64url(k['x'])).verify(sig, base)
        else:
            if (k['kty'], k['crv'], k['alg'], p['alg']) != (
                    'EC', 'P-256', 'ES256', 'ecdsa-p256-sha256'):
                fail('alg: %r %r' % (k, p['alg']))
            if len(sig) != 64:
                fail('ECDSA signature is not r||s (%d bytes)' % len(sig))
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64url(k['x']), 'big'),
                int.from_bytes(b64url(k['y']), 'big'),
                ec.SECP256R1()).public_key()
            pub.verify(utils.encode_dss_signature(
                int.from_bytes(sig[:32], 'big'),
                int.from_bytes(sig[32:], 'big')),
                base, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        fail('signature does not verify')

    print('verified')


main()
