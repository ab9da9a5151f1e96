//! age's hybrid post-quantum recipient type, `mlkem768x25519` (age v1.3; C2SP age spec): the file
//! key is sealed with HPKE base mode (RFC 9180) over the MLKEM768-X25519 KEM (X-Wing,
//! draft-ietf-hpke-pq-03, KEM id 0x647a), HKDF-SHA256 and ChaCha20-Poly1305, with
//! `info = "age-encryption.org/mlkem768x25519"` and empty `aad`.
//!
//! ML-KEM-768 comes from RustCrypto's `ml-kem` and HPKE from age-core (the `hpke` crate), the
//! versions the age crate builds for its own post-quantum type. What is written here is the X-Wing
//! glue: key expansion from the 32-byte seed, the SHA3-256 combiner, and the stanza encoding.
//! Private keys stay expanded, so opening a stanza costs one ML-KEM decapsulation and one X25519
//! Diffie-Hellman. The community age test kit (core/tests/age-testkit) is the interoperability proof.

use std::collections::HashSet;

use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::{bech32_decode, bech32_encode, hpke_open, hpke_seal};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use hpke::generic_array::typenum::{self, Unsigned};
use hpke::kem::SharedSecret;
use hpke::{Deserializable, HpkeError, Serializable};
use ml_kem::kem::Encapsulate;
use ml_kem::{EncodedSizeUser, KemCore, MlKem768};
use rand::{CryptoRng, RngCore};
use sha3::digest::{ExtendableOutput, FixedOutput, Update, XofReader};
use sha3::{Sha3_256, Shake256};
use x25519_dalek::{PublicKey as XPublic, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::keys::KeyError;
use crate::x25519::{X25519Public, X25519Secret, ephemeral_agreement};

/// The stanza tag of hybrid post-quantum recipients.
pub const HYBRID_TAG: &str = "mlkem768x25519";
const INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// X-Wing's combiner label, `\.//^\`.
const XWING_LABEL: &[u8] = b"\\.//^\\";
const RECIPIENT_HRP: &str = "age1pq";
const IDENTITY_HRP: &str = "AGE-SECRET-KEY-PQ-";
/// How every hybrid recipient string starts (HRP and Bech32 separator).
pub const RECIPIENT_PREFIX: &str = "age1pq1";
/// How every hybrid identity string starts, in the upper case age writes it.
pub const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-PQ-1";
/// The label age gives post-quantum stanzas: they must not be mixed with classic ones.
const PQ_LABEL: &str = "postquantum";

type MlKemEk = <MlKem768 as KemCore>::EncapsulationKey;
/// ML-KEM-768 decapsulation with AWS-LC: about a third of the RustCrypto crate's time
/// (core/benches/README.md), shared by clones of the key. AWS-LC clears what it frees.
type MlKemDk = std::sync::Arc<aws_lc_rs::kem::DecapsulationKey>;
/// ML-KEM-768 encapsulation key (1,184 bytes) then the X25519 public key.
type PublicSize = typenum::Sum<typenum::U1024, typenum::U192>;
/// ML-KEM-768 ciphertext (1,088 bytes) then the ephemeral X25519 share.
type EncSize = typenum::Sum<typenum::U1024, typenum::U96>;
const ML_KEM_EK_LEN: usize = 1184;
const ML_KEM_CT_LEN: usize = 1088;
/// Bytes of a hybrid public key.
const PUBLIC_KEY_LEN: usize = ML_KEM_EK_LEN + 32;
const ENC_LEN: usize = ML_KEM_CT_LEN + 32;
/// Unpadded base64 of the 1,120-byte encapsulated key.
const ENC_B64_LEN: usize = (ENC_LEN * 4).div_ceil(3);
const WRAPPED_FILE_KEY_LEN: usize = FILE_KEY_BYTES + 16;

/// The public half: ML-KEM-768 encapsulation key and X25519 public key.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HybridPublic {
    ek_m: MlKemEk,
    pk_x: XPublic,
}

impl HybridPublic {
    /// Parses `age1pq1...`. The ML-KEM key must be canonical (FIPS 203's modulus check: it
    /// re-encodes to the same bytes) and the X25519 key not of small order.
    pub(crate) fn parse(s: &str) -> Result<Self, KeyError> {
        let bytes = bech32_decode(
            s,
            |_| KeyError::MalformedRecipient,
            |hrp| {
                (hrp.as_str() == RECIPIENT_HRP)
                    .then_some(())
                    .ok_or(KeyError::MalformedRecipient)
            },
            |_, bytes| Ok(bytes.collect::<Vec<u8>>()),
        )?;
        let public = Self::from_bytes(&bytes).map_err(|_| KeyError::MalformedRecipient)?;
        if crate::x25519::is_low_order(public.pk_x.as_bytes()) {
            return Err(KeyError::LowOrderRecipient);
        }
        Ok(public)
    }

    /// The 1,216 bytes the recipient string encodes (and its fingerprint is taken over).
    pub(crate) fn to_bytes_vec(&self) -> Vec<u8> {
        self.to_bytes().to_vec()
    }

    pub(crate) fn encode(&self) -> String {
        bech32_encode(bech32::Hrp::parse_unchecked(RECIPIENT_HRP), &self.to_bytes())
    }

    /// Wraps a file key in one `mlkem768x25519` stanza.
    pub(crate) fn wrap(&self, file_key: &FileKey) -> Stanza {
        use age_core::secrecy::ExposeSecret;
        let (enc, body) = hpke_seal::<XWing, _>(self, INFO, file_key.expose_secret(), &mut rand::rngs::OsRng);
        Stanza {
            tag: HYBRID_TAG.to_owned(),
            args: vec![BASE64_STANDARD_NO_PAD.encode(enc.to_bytes())],
            body,
        }
    }
}

impl Eq for HybridPublic {}

impl age::Recipient for HybridPublic {
    fn wrap_file_key(&self, file_key: &FileKey) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        Ok((vec![self.wrap(file_key)], HashSet::from([PQ_LABEL.to_owned()])))
    }
}

impl Serializable for HybridPublic {
    type OutputSize = PublicSize;

    fn write_exact(&self, buf: &mut [u8]) {
        buf[..ML_KEM_EK_LEN].copy_from_slice(&self.ek_m.as_bytes());
        buf[ML_KEM_EK_LEN..].copy_from_slice(self.pk_x.as_bytes());
    }
}

impl Deserializable for HybridPublic {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        if encoded.len() != PUBLIC_KEY_LEN {
            return Err(HpkeError::IncorrectInputLength(PUBLIC_KEY_LEN, encoded.len()));
        }
        let (m, x) = encoded.split_at(ML_KEM_EK_LEN);
        let encoded_m = m.try_into().map_err(|_| HpkeError::ValidationError)?;
        let ek_m = MlKemEk::from_bytes(encoded_m);
        if ek_m.as_bytes().as_slice() != m {
            return Err(HpkeError::ValidationError);
        }
        let x: [u8; 32] = x.try_into().map_err(|_| HpkeError::ValidationError)?;
        Ok(Self {
            ek_m,
            pk_x: XPublic::from(x),
        })
    }
}

/// The private half, kept expanded: the seed (what the identity string encodes), the ML-KEM
/// decapsulation key (expanded by the ml-kem crate, held by AWS-LC) and the X25519 scalar, with
/// the public half. All secret parts zeroize on drop.
#[derive(Clone)]
pub(crate) struct HybridSecret {
    seed: Zeroizing<[u8; 32]>,
    dk_m: MlKemDk,
    sk_x: X25519Secret,
    public: HybridPublic,
}

impl PartialEq for HybridSecret {
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}

impl Eq for HybridSecret {}

impl HybridSecret {
    /// A fresh key from the operating system's random source (age-keygen -pq does the same).
    pub(crate) fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(seed.as_mut());
        Self::from_seed(seed)
    }

    /// X-Wing's key expansion: SHAKE256(seed) gives ML-KEM's (d, z), then the X25519 scalar.
    fn from_seed(seed: Zeroizing<[u8; 32]>) -> Self {
        let mut expanded = Zeroizing::new([0u8; 96]);
        Shake256::default()
            .chain(seed.as_slice())
            .finalize_xof()
            .read(expanded.as_mut());
        let mut d = ml_kem::B32::try_from(&expanded[..32]).expect("32 bytes");
        let mut z = ml_kem::B32::try_from(&expanded[32..64]).expect("32 bytes");
        let (expanded_dk, ek_m) = MlKem768::generate_deterministic(&d, &z);
        d.as_mut_slice().zeroize();
        z.as_mut_slice().zeroize();
        // The FIPS 203 encoding of the decapsulation key, which AWS-LC reads as it is.
        let mut dk_bytes = expanded_dk.as_bytes();
        drop(expanded_dk);
        let dk_m = aws_lc_rs::kem::DecapsulationKey::new(&aws_lc_rs::kem::ML_KEM_768, dk_bytes.as_slice())
            .expect("AWS-LC takes any 2,400-byte ML-KEM-768 decapsulation key");
        dk_bytes.as_mut_slice().zeroize();
        let dk_m = std::sync::Arc::new(dk_m);
        let mut x = [0u8; 32];
        x.copy_from_slice(&expanded[64..]);
        let sk_x = X25519Secret::new(StaticSecret::from(x));
        x.zeroize();
        let pk_x = XPublic::from(*sk_x.public().as_bytes());
        Self {
            seed,
            dk_m,
            sk_x,
            public: HybridPublic { ek_m, pk_x },
        }
    }

    /// Parses `AGE-SECRET-KEY-PQ-1...` (either case, as age accepts).
    pub(crate) fn parse(s: &str) -> Result<Self, KeyError> {
        let seed = bech32_decode(
            s,
            |_| KeyError::MalformedIdentity,
            |hrp| {
                hrp.as_str()
                    .eq_ignore_ascii_case(IDENTITY_HRP)
                    .then_some(())
                    .ok_or(KeyError::MalformedIdentity)
            },
            |_, bytes| {
                let bytes = Zeroizing::new(bytes.collect::<Vec<u8>>());
                let mut seed = Zeroizing::new([0u8; 32]);
                if bytes.len() != seed.len() {
                    return Err(KeyError::MalformedIdentity);
                }
                seed.copy_from_slice(&bytes);
                Ok(seed)
            },
        )?;
        Ok(Self::from_seed(seed))
    }

    /// The `AGE-SECRET-KEY-PQ-1...` string.
    pub(crate) fn encode(&self) -> Zeroizing<String> {
        let mut lower = bech32_encode(bech32::Hrp::parse_unchecked(IDENTITY_HRP), self.seed.as_slice());
        let upper = Zeroizing::new(lower.to_uppercase());
        lower.zeroize();
        upper
    }

    pub(crate) fn public(&self) -> &HybridPublic {
        &self.public
    }

    /// Opens one stanza the way age does: `None` when it is not this type or not for this key,
    /// an error when it is malformed (wrong arguments or lengths, a non-canonical or low-order
    /// share).
    pub(crate) fn unwrap(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != HYBRID_TAG {
            return None;
        }
        let invalid = Some(Err(age::DecryptError::InvalidHeader));
        let [arg] = stanza.args.as_slice() else {
            return invalid;
        };
        if arg.len() != ENC_B64_LEN || stanza.body.len() != WRAPPED_FILE_KEY_LEN {
            return invalid;
        }
        // The base64 engine refuses non-canonical encodings (stray low bits).
        let Ok(enc) = BASE64_STANDARD_NO_PAD.decode(arg) else {
            return invalid;
        };
        let Ok(enc) = HybridEnc::from_bytes(&enc) else {
            return invalid;
        };
        match hpke_open::<XWing>(&enc, self, INFO, &stanza.body) {
            Ok(plain) => {
                let plain = Zeroizing::new(plain);
                (plain.len() == FILE_KEY_BYTES)
                    .then(|| Ok(FileKey::init_with_mut(|key| key.copy_from_slice(&plain))))
            }
            // The X25519 share was a low-order point: the shared secret would be all zeros.
            Err(HpkeError::DecapError) => invalid,
            // Anything else only means "not this identity": stanzas are anonymous.
            Err(_) => None,
        }
    }
}

impl Serializable for HybridSecret {
    type OutputSize = typenum::U32;

    fn write_exact(&self, buf: &mut [u8]) {
        buf.copy_from_slice(self.seed.as_slice());
    }
}

impl Deserializable for HybridSecret {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        let seed: [u8; 32] = encoded
            .try_into()
            .map_err(|_| HpkeError::IncorrectInputLength(32, encoded.len()))?;
        Ok(Self::from_seed(Zeroizing::new(seed)))
    }
}

/// The encapsulated key: ML-KEM-768 ciphertext, then the ephemeral X25519 share.
#[derive(Clone)]
struct HybridEnc {
    ct_m: ml_kem::Ciphertext<MlKem768>,
    ct_x: [u8; 32],
}

impl Serializable for HybridEnc {
    type OutputSize = EncSize;

    fn write_exact(&self, buf: &mut [u8]) {
        buf[..ML_KEM_CT_LEN].copy_from_slice(&self.ct_m);
        buf[ML_KEM_CT_LEN..].copy_from_slice(&self.ct_x);
    }
}

impl Deserializable for HybridEnc {
    fn from_bytes(encoded: &[u8]) -> Result<Self, HpkeError> {
        if encoded.len() != ENC_LEN {
            return Err(HpkeError::IncorrectInputLength(ENC_LEN, encoded.len()));
        }
        let (m, x) = encoded.split_at(ML_KEM_CT_LEN);
        Ok(Self {
            ct_m: ml_kem::Ciphertext::<MlKem768>::try_from(m).map_err(|_| HpkeError::ValidationError)?,
            ct_x: x.try_into().map_err(|_| HpkeError::ValidationError)?,
        })
    }
}

/// MLKEM768-X25519 (X-Wing) as an HPKE KEM.
struct XWing;

impl hpke::Kem for XWing {
    type PublicKey = HybridPublic;
    type PrivateKey = HybridSecret;
    type EncappedKey = HybridEnc;
    type NSecret = typenum::U32;
    const KEM_ID: u16 = 0x647a;

    fn sk_to_pk(sk: &HybridSecret) -> HybridPublic {
        sk.public.clone()
    }

    /// draft-ietf-hpke-pq: `seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32)`.
    fn derive_keypair(ikm: &[u8]) -> (HybridSecret, HybridPublic) {
        let mut seed = Zeroizing::new([0u8; 32]);
        let label = b"DeriveKeyPair";
        Shake256::default()
            .chain(ikm)
            .chain(b"HPKE-v1")
            .chain(b"KEM")
            .chain(Self::KEM_ID.to_be_bytes())
            .chain((label.len() as u16).to_be_bytes())
            .chain(label)
            .chain(32u16.to_be_bytes())
            .finalize_xof_into(seed.as_mut());
        let secret = HybridSecret::from_seed(seed);
        let public = secret.public.clone();
        (secret, public)
    }

    fn decap(
        sk: &HybridSecret,
        sender: Option<&HybridPublic>,
        enc: &HybridEnc,
    ) -> Result<SharedSecret<Self>, HpkeError> {
        if sender.is_some() {
            return Err(HpkeError::DecapError);
        }
        // ML-KEM decapsulation never fails on a well-sized ciphertext (implicit rejection).
        let ss_m = sk
            .dk_m
            .decapsulate(enc.ct_m.as_slice().into())
            .map_err(|_| HpkeError::DecapError)?;
        // None: a share of small order, whose shared secret anyone would know.
        let ss_x = sk.sk_x.diffie_hellman(&enc.ct_x).ok_or(HpkeError::DecapError)?;
        Ok(SharedSecret(combine(
            ss_m.as_ref(),
            ss_x.as_ref(),
            &enc.ct_x,
            sk.public.pk_x.as_bytes(),
        )))
    }

    fn encap<R: CryptoRng + RngCore>(
        pk: &HybridPublic,
        sender: Option<(&HybridSecret, &HybridPublic)>,
        rng: &mut R,
    ) -> Result<(SharedSecret<Self>, HybridEnc), HpkeError> {
        if sender.is_some() {
            return Err(HpkeError::EncapError);
        }
        let (ct_m, ss_m) = pk.ek_m.encapsulate(rng).map_err(|()| HpkeError::EncapError)?;
        let mut ek_x = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(ek_x.as_mut());
        // Keys of small order are refused when parsed, so neither step fails in practice.
        let recipient = X25519Public::new(pk.pk_x.to_bytes()).ok_or(HpkeError::EncapError)?;
        let (ct_x, ss_x) = ephemeral_agreement(&ek_x, &recipient).ok_or(HpkeError::EncapError)?;
        let ss = combine(&ss_m, ss_x.as_ref(), &ct_x, pk.pk_x.as_bytes());
        Ok((SharedSecret(ss), HybridEnc { ct_m, ct_x }))
    }
}

/// X-Wing's combiner: SHA3-256(ss_M || ss_X || ct_X || pk_X || label).
fn combine(
    ss_m: &[u8],
    ss_x: &[u8],
    ct_x: &[u8],
    pk_x: &[u8],
) -> hpke::generic_array::GenericArray<u8, typenum::U32> {
    let digest = Sha3_256::default()
        .chain(ss_m)
        .chain(ss_x)
        .chain(ct_x)
        .chain(pk_x)
        .chain(XWING_LABEL)
        .finalize_fixed();
    hpke::generic_array::GenericArray::clone_from_slice(&digest)
}

const _: () = assert!(<PublicSize as Unsigned>::USIZE == PUBLIC_KEY_LEN);
const _: () = assert!(<EncSize as Unsigned>::USIZE == ENC_LEN);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_lc_decapsulates_as_the_ml_kem_crate_does_even_for_altered_ciphertexts() {
        use ml_kem::kem::Decapsulate;
        let seed = [7u8; 32];
        let mut expanded = [0u8; 96];
        Shake256::default().chain(seed).finalize_xof().read(&mut expanded);
        let d = ml_kem::B32::try_from(&expanded[..32]).expect("32 bytes");
        let z = ml_kem::B32::try_from(&expanded[32..64]).expect("32 bytes");
        let (dk, ek) = MlKem768::generate_deterministic(&d, &z);
        let secret = HybridSecret::from_seed(Zeroizing::new(seed));
        assert_eq!(secret.public.ek_m.as_bytes(), ek.as_bytes());
        let ours = |ct: &[u8]| {
            secret
                .dk_m
                .decapsulate(ct.into())
                .expect("decapsulates")
                .as_ref()
                .to_vec()
        };
        for _ in 0..4 {
            let (ct, shared) = ek.encapsulate(&mut rand::rngs::OsRng).expect("encapsulates");
            assert_eq!(ours(&ct), shared.as_slice());
            // Implicit rejection: an altered ciphertext gives the same pseudo-random secret.
            let mut altered = ct;
            altered[100] ^= 1;
            let rejected = dk.decapsulate(&altered).expect("decapsulates");
            assert_eq!(ours(&altered), rejected.as_slice());
            assert_ne!(rejected.as_slice(), shared.as_slice());
        }
    }

    #[test]
    fn a_stanza_opens_with_its_key_only() {
        let secret = HybridSecret::generate();
        let file_key = FileKey::new(Box::new([7u8; FILE_KEY_BYTES]));
        let stanza = secret.public().wrap(&file_key);
        assert_eq!(stanza.args[0].len(), ENC_B64_LEN);
        assert_eq!(stanza.body.len(), WRAPPED_FILE_KEY_LEN);
        let opened = secret.unwrap(&stanza).expect("for this key").expect("opens");
        use age_core::secrecy::ExposeSecret;
        assert_eq!(opened.expose_secret(), &[7u8; FILE_KEY_BYTES]);
        assert!(
            HybridSecret::generate().unwrap(&stanza).is_none(),
            "a stranger gets no match"
        );
    }

    #[test]
    fn keys_round_trip_through_their_strings() {
        let secret = HybridSecret::generate();
        let encoded = secret.encode();
        assert!(
            encoded.starts_with(IDENTITY_PREFIX),
            "upper case like age-keygen -pq"
        );
        let parsed = HybridSecret::parse(&encoded).expect("parses");
        assert_eq!(parsed.public(), secret.public());
        let public = secret.public().encode();
        assert!(public.starts_with(RECIPIENT_PREFIX));
        assert_eq!(HybridPublic::parse(&public).expect("parses"), *secret.public());
    }

    #[test]
    fn a_non_canonical_ml_kem_key_is_refused() {
        let mut bytes = HybridSecret::generate().public().to_bytes_vec();
        // 12-bit coefficients must be below q = 3329: 0xfff is not.
        bytes[0] = 0xff;
        bytes[1] |= 0x0f;
        let text = bech32_encode(bech32::Hrp::parse_unchecked(RECIPIENT_HRP), &bytes);
        assert_eq!(HybridPublic::parse(&text), Err(KeyError::MalformedRecipient));
    }

    #[test]
    fn a_low_order_x25519_half_is_refused() {
        let mut bytes = HybridSecret::generate().public().to_bytes_vec();
        let x25519 = bytes.len() - 32;
        bytes[x25519..].fill(0);
        let text = bech32_encode(bech32::Hrp::parse_unchecked(RECIPIENT_HRP), &bytes);
        assert_eq!(HybridPublic::parse(&text), Err(KeyError::LowOrderRecipient));
        assert_eq!(
            text.parse::<crate::Recipient>().map(|r| r.id()),
            Err(KeyError::LowOrderRecipient)
        );
    }
}
