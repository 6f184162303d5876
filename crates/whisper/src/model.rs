//! The model: a CTranslate2 Whisper directory, checked and loaded once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ct2rs::sys::{ComputeType, Config, Whisper};
use ct2rs::tokenizers::hf::Tokenizer;

use crate::mel::MelFrontEnd;
use crate::WhisperError;

/// Where the setup step puts the model, under the user's cache folder.
pub const DEFAULT_MODEL_SUBDIR: &str = "redscribe/models/whisper-tiny.en";

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
    /// `REDSCRIBE_MODEL_DIR`, else the setup step's cache folder.
    pub fn from_env() -> EngineConfig {
        let model_dir = std::env::var_os("REDSCRIBE_MODEL_DIR").map(PathBuf::from).unwrap_or_else(default_model_dir);
        EngineConfig { model_dir, threads: 0, compute_type: ComputeType::INT8 }
    }
}

/// `~/.cache/redscribe/models/whisper-tiny.en` (or `$XDG_CACHE_HOME/…`).
pub fn default_model_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join(DEFAULT_MODEL_SUBDIR)
}

/// Token ids the decoder needs, read from the model's vocabulary (one token per line, id = line number).
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
    fn read(path: &Path) -> Result<Vocabulary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let tokens: Vec<String> = text.lines().map(str::to_owned).collect();
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

impl Engine {
    /// Checks the directory and loads the model; every problem is a [`WhisperError::Model`] naming the folder.
    pub fn load(config: &EngineConfig) -> Result<Engine, WhisperError> {
        let started = Instant::now();
        let dir = &config.model_dir;
        let fail = |reason: String| WhisperError::Model { dir: dir.display().to_string(), reason };
        for file in ["model.bin", "config.json", "vocabulary.txt", "tokenizer.json"] {
            if !dir.join(file).is_file() {
                return Err(fail(format!(
                    "{file} is missing (run scripts/setup.sh, or set REDSCRIBE_MODEL_DIR to a CTranslate2 Whisper model)"
                )));
            }
        }
        let vocabulary = Vocabulary::read(&dir.join("vocabulary.txt")).map_err(fail)?;
        let tokenizer =
            Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| fail(format!("tokenizer: {e}")))?;
        let ct2_config =
            Config { compute_type: config.compute_type, num_threads_per_replica: config.threads, ..Config::default() };
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
