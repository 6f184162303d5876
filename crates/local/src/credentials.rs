//! The access key pair the stand-ins accept.

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

    /// A fresh pair from the operating system's random source (`getrandom`): 13 random hex digits after the
    /// `AKLOCAL` prefix (20 characters, as AWS access key ids are) and a 40-character secret.
    pub fn generate() -> Credentials {
        let mut bytes = [0u8; 27];
        // The kernel's random source is always there on the platforms the stand-ins run on; without it no
        // credentials worth the name can be made.
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        let id = hex::encode_upper(&bytes[..7]);
        Credentials { access_key_id: format!("AKLOCAL{}", &id[..13]), secret_access_key: hex::encode(&bytes[7..]) }
    }
}
