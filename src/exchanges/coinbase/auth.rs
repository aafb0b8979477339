//! CDP API key authentication: a fresh JWT per request, `Authorization: Bearer <jwt>`.
//!
//! Signed by hand with `p256` / `ed25519-dalek` rather than `jsonwebtoken`: the key CDP
//! issues for ES256 is a SEC1 "EC PRIVATE KEY" PEM, which jsonwebtoken's
//! `EncodingKey::from_ec_pem` does not read (it wants PKCS#8), and the token is three
//! base64url segments whose exact bytes the test vectors pin down — a JOSE library adds
//! nothing but a dependency between us and those bytes.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ed25519_dalek::Signer as _;
use p256::pkcs8::DecodePrivateKey;
use rand::RngCore;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::exchanges::ExchangeError;

/// Lifetime of a token, seconds (CDP accepts two minutes).
pub const TOKEN_LIFETIME_SECS: i64 = 120;

/// A CDP signing key: ECDSA P-256 (ES256) or Ed25519 (EdDSA).
pub enum CdpKey {
    /// ECDSA P-256, from a SEC1 or PKCS#8 PEM.
    Es256(p256::ecdsa::SigningKey),
    /// Ed25519, from PKCS#8 PEM or raw base64 (32-byte seed or 64-byte seed‖public).
    EdDsa(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for CdpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CdpKey({}, ***)", self.alg())
    }
}

impl CdpKey {
    /// Reads a key as users hold it; `var` names its environment variable in errors (the
    /// value is never quoted). Literal `\n` sequences, as left by pasting a PEM into an
    /// environment variable, are turned back into newlines.
    pub fn parse(secret: &str, var: &str) -> Result<Self, ExchangeError> {
        let unusable = || {
            ExchangeError::Credentials(format!(
                "{var} is not a usable key (expected an EC PRIVATE KEY PEM, a PKCS#8 PEM, \
                 or a base64 Ed25519 key)"
            ))
        };
        let normalised: Zeroizing<String> = Zeroizing::new(
            secret
                .trim()
                .trim_matches('"')
                .replace("\\r\\n", "\n")
                .replace("\\n", "\n")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n"),
        );
        let pem: Zeroizing<String> = Zeroizing::new(format!("{}\n", normalised.as_str()));
        if normalised.contains("-----BEGIN EC PRIVATE KEY-----") {
            return p256::SecretKey::from_sec1_pem(&pem)
                .map(|k| Self::Es256(k.into()))
                .map_err(|_| unusable());
        }
        if normalised.contains("-----BEGIN PRIVATE KEY-----") {
            return p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
                .map(Self::Es256)
                .or_else(|_| ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map(Self::EdDsa))
                .map_err(|_| unusable());
        }
        let compact: Zeroizing<String> =
            Zeroizing::new(normalised.chars().filter(|c| !c.is_whitespace()).collect());
        let raw = Zeroizing::new(
            STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| unusable())?,
        );
        if let Ok(seed) = <[u8; 32]>::try_from(raw.as_slice()) {
            let seed = Zeroizing::new(seed);
            return Ok(Self::EdDsa(ed25519_dalek::SigningKey::from_bytes(&seed)));
        }
        if let Ok(pair) = <[u8; 64]>::try_from(raw.as_slice()) {
            let pair = Zeroizing::new(pair);
            return ed25519_dalek::SigningKey::from_keypair_bytes(&pair)
                .map(Self::EdDsa)
                .map_err(|_| {
                    ExchangeError::Credentials(format!(
                        "{var}: the 64-byte Ed25519 key's public half does not match its seed"
                    ))
                });
        }
        // A PEM body without its armour (accepted by Hummingbot too): SEC1 or PKCS#8 DER.
        p256::SecretKey::from_sec1_der(&raw)
            .map(|k| Self::Es256(k.into()))
            .or_else(|_| p256::ecdsa::SigningKey::from_pkcs8_der(&raw).map(Self::Es256))
            .or_else(|_| ed25519_dalek::SigningKey::from_pkcs8_der(&raw).map(Self::EdDsa))
            .map_err(|_| unusable())
    }

    /// The JOSE `alg`.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
        }
    }

    /// The 64-byte JWS signature: `r‖s` for ES256 (RFC 7518 §3.4, not DER), the
    /// deterministic Ed25519 signature for EdDSA.
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        match self {
            Self::Es256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_bytes().into()
            }
            Self::EdDsa(k) => k.sign(message).to_bytes(),
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    nonce: &'a str,
    typ: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'a str,
    nbf: i64,
    exp: i64,
    uri: &'a str,
}

/// Signs CDP JWTs for one API key.
pub struct JwtSigner {
    key_name: SecretString,
    key: CdpKey,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtSigner({:?})", self.key)
    }
}

impl JwtSigner {
    /// A signer for the key `key_name` (`organizations/…/apiKeys/…`).
    pub fn new(key_name: SecretString, key: CdpKey) -> Self {
        Self { key_name, key }
    }

    /// The token for `uri` at Unix time `now` with `nonce` (explicit, so the test vector
    /// can be reproduced byte for byte). Header and claims are compact JSON, keys in the
    /// order CDP's SDKs emit them.
    pub fn token(&self, uri: &str, now: i64, nonce: &str) -> Result<String, ExchangeError> {
        let kid = self.key_name.expose_secret();
        let header = Header {
            alg: self.key.alg(),
            kid,
            nonce,
            typ: "JWT",
        };
        let claims = Claims {
            sub: kid,
            iss: "cdp",
            nbf: now,
            exp: now + TOKEN_LIFETIME_SECS,
            uri,
        };
        let signing_input = format!("{}.{}", segment(&header)?, segment(&claims)?);
        let signature = self.key.sign(signing_input.as_bytes());
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// A fresh token for `uri`: the current time and 16 random bytes of nonce (hex).
    pub fn fresh_token(&self, uri: &str) -> Result<String, ExchangeError> {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        self.token(uri, chrono::Utc::now().timestamp(), &hex::encode(nonce))
    }
}

/// One base64url segment of compact JSON.
fn segment<T: Serialize>(value: &T) -> Result<String, ExchangeError> {
    serde_json::to_vec(value)
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .map_err(|_| ExchangeError::Credentials("cannot encode the JWT".into()))
}

/// The `uri` claim of a GET to `url`: `"GET host[:port]/path"` — no scheme, the port only
/// when it is not the scheme's default, and never the query string (CDP signs the bare
/// path even when `limit`/`cursor` are sent).
pub fn jwt_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("GET {host}:{port}{}", url.path()),
        None => format!("GET {host}{}", url.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/auth_vectors_synthetic.json"
    ));

    fn vector(key: &str) -> serde_json::Value {
        let all: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        all[key].clone()
    }

    #[test]
    fn eddsa_token_matches_the_vector_byte_for_byte_from_either_key_form() {
        let v = vector("coinbase_advanced_eddsa");
        let name = v["key_name"].as_str().unwrap();
        let nonce = v["header"]["nonce"].as_str().unwrap();
        let now = v["claims"]["nbf"].as_i64().unwrap();
        let uri = v["claims"]["uri"].as_str().unwrap();
        for form in [
            "ed25519_seed_base64",
            "secret_as_issued_base64_seed_then_public",
        ] {
            let key = CdpKey::parse(v[form].as_str().unwrap(), "TEST_VAR").unwrap();
            assert_eq!(key.alg(), "EdDSA");
            let signer = JwtSigner::new(name.into(), key);
            let token = signer.token(uri, now, nonce).unwrap();
            assert_eq!(token, v["expected_jwt"].as_str().unwrap(), "{form}");
            assert!(token.starts_with(v["signing_input"].as_str().unwrap()));
        }
    }

    #[test]
    fn es256_token_has_the_vector_shape_and_verifies() {
        use p256::ecdsa::signature::Verifier;
        let v = vector("coinbase_advanced_es256_verify_only");
        let sk = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let signer = JwtSigner::new(
            v["key_name"].as_str().unwrap().into(),
            CdpKey::Es256(sk.clone()),
        );
        let token = signer
            .token(
                v["claims"]["uri"].as_str().unwrap(),
                v["claims"]["nbf"].as_i64().unwrap(),
                v["header"]["nonce"].as_str().unwrap(),
            )
            .unwrap();
        // Same header and claims bytes as the vector; only the signature differs.
        let expected = v["jwt"].as_str().unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(input, expected.rsplit_once('.').unwrap().0);
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert_eq!(sig.len(), 64);
        let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        sk.verifying_key().verify(input.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn keys_parse_from_every_form_users_paste() {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        let sk = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let sec1 = sk.to_sec1_pem(LineEnding::LF).unwrap();
        let pkcs8 = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
        let escaped = sec1.replace('\n', "\\n");
        let der_b64 = STANDARD.encode(sk.to_sec1_der().unwrap());
        for (label, text) in [
            ("sec1", sec1.to_string()),
            ("pkcs8", pkcs8.to_string()),
            ("escaped", escaped),
            ("quoted", format!("\"{}\"", sec1.as_str())),
            ("crlf", sec1.replace('\n', "\r\n")),
            ("bare der", der_b64),
        ] {
            let key = CdpKey::parse(&text, "V").unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(key.alg(), "ES256", "{label}");
        }
        let ed = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let ed_pem = ed.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(CdpKey::parse(&ed_pem, "V").unwrap().alg(), "EdDSA");
    }

    #[test]
    fn unusable_keys_name_the_variable_and_never_echo_the_value() {
        for bad in [
            "not a key at all",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "AAECAwQ=",
        ] {
            let err = CdpKey::parse(bad, "COINBASE_API_SECRET").unwrap_err();
            let text = err.to_string();
            assert!(text.contains("COINBASE_API_SECRET"), "{text}");
            assert!(!text.contains(bad), "{text}");
        }
        // 64 bytes whose public half is wrong.
        let mut pair = [1u8; 64];
        pair[63] = 0;
        let err = CdpKey::parse(&STANDARD.encode(pair), "K").unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn uri_claim_has_host_port_and_path_but_no_query() {
        let u = Url::parse("http://127.0.0.1:43111/api/v3/brokerage/accounts?limit=250&cursor=x")
            .unwrap();
        assert_eq!(jwt_uri(&u), "GET 127.0.0.1:43111/api/v3/brokerage/accounts");
        let u = Url::parse("https://api.coinbase.com:443/api/v3/brokerage/accounts").unwrap();
        assert_eq!(
            jwt_uri(&u),
            "GET api.coinbase.com/api/v3/brokerage/accounts"
        );
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = CdpKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "V").unwrap();
        let shown = format!("{:?}", JwtSigner::new("org/key".into(), key));
        assert_eq!(shown, "JwtSigner(CdpKey(EdDSA, ***))");
    }
}
