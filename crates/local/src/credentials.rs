//! The access key pair the stand-ins accept.

/// The variables that set the stand-ins' access key pair.
pub const ACCESS_KEY_VAR: &str = "REDSCRIBE_LOCAL_ACCESS_KEY_ID";
pub const SECRET_KEY_VAR: &str = "REDSCRIBE_LOCAL_SECRET_ACCESS_KEY";

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
    /// The stand-ins' own pair, never a real AWS key (the environment's `AWS_ACCESS_KEY_ID` may be one, and a
    /// stand-in would then hold it and hand it to whoever reads its profile): `REDSCRIBE_LOCAL_ACCESS_KEY_ID` /
    /// `REDSCRIBE_LOCAL_SECRET_ACCESS_KEY` when both are set, else the pair of the profile an earlier run wrote
    /// (`profile`, an AWS shared credentials file: clients configured then keep working), else a fresh one.
    pub fn for_stand_ins(profile: &std::path::Path) -> Credentials {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (var(ACCESS_KEY_VAR), var(SECRET_KEY_VAR)) {
            return Credentials { access_key_id: id, secret_access_key: secret };
        }
        std::fs::read_to_string(profile)
            .ok()
            .and_then(|text| Credentials::from_profile(&text))
            .unwrap_or_else(Credentials::generate)
    }

    /// The pair of a shared credentials file's text (its first `aws_access_key_id` and `aws_secret_access_key`).
    fn from_profile(text: &str) -> Option<Credentials> {
        let value = |name: &str| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == name).then(|| v.trim().to_string()).filter(|v| !v.is_empty())
            })
        };
        Some(Credentials {
            access_key_id: value("aws_access_key_id")?,
            secret_access_key: value("aws_secret_access_key")?,
        })
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
