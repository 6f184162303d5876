//! The access key pair the stand-ins accept.

use sha2::{Digest, Sha256};

/// An access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl Credentials {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` when both are set, else a fresh generated pair.
    pub fn from_env_or_generate() -> Credentials {
        match (std::env::var("AWS_ACCESS_KEY_ID"), std::env::var("AWS_SECRET_ACCESS_KEY")) {
            (Ok(id), Ok(secret)) if !id.is_empty() && !secret.is_empty() => {
                Credentials { access_key_id: id, secret_access_key: secret }
            }
            _ => Credentials::generate(),
        }
    }

    /// A fresh pair, unpredictable enough for a loopback-only development server.
    pub fn generate() -> Credentials {
        let mut seed = Sha256::new();
        seed.update(std::process::id().to_le_bytes());
        seed.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
        seed.update(format!("{:p}", &seed).as_bytes());
        let digest = hex::encode_upper(seed.finalize());
        Credentials {
            access_key_id: format!("AKLOCAL{}", &digest[..13]),
            secret_access_key: hex::encode(Sha256::digest(digest.as_bytes())),
        }
    }
}
