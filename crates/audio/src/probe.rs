//! Opens a recording and reads its metadata, checking the header against the data actually present.

use std::panic::{catch_unwind, AssertUnwindSafe};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::sniff::{self, SNIFF_LEN};
use crate::{AudioError, AudioMetadata, Source};

/// Highest sample rate accepted as real audio (studio formats stop at 384 kHz).
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Lowest sample rate accepted as real audio.
pub const MIN_SAMPLE_RATE: u32 = 1_000;
/// Most channels accepted.
pub const MAX_CHANNELS: usize = 32;
/// Packets decoded to verify that the data is real audio before the rest is only demuxed.
const VERIFY_PACKETS: usize = 16;

/// An opened, validated audio stream.
/// Packets decoded and skipped so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Packets {
    pub decoded: u64,
    pub skipped: u64,
}

pub(crate) struct Opened {
    pub container: &'static str,
    pub codec: String,
    pub format: Box<dyn FormatReader>,
    pub decoder: Box<dyn Decoder>,
    pub track_id: u32,
    pub sample_rate: u32,
    pub channels: usize,
    pub declared_frames: Option<u64>,
    pub bits_per_coded_sample: Option<u32>,
    pub size: u64,
    /// A packet already read from the format (to learn the channel count) that must be processed first.
    pub first_packet: Option<Packet>,
}

impl Opened {
    /// The next packet of the audio track, or `None` at the end of the stream. A demuxer error after good packets
    /// is damage at the end of the file: it ends the stream and is kept in `first_error`; before any packet it
    /// means the data is not what the header says.
    pub(crate) fn read_packet(
        &mut self,
        after_good_packets: bool,
        first_error: &mut Option<String>,
    ) -> Result<Option<Packet>, AudioError> {
        match self.next_packet() {
            Ok(p) => Ok(Some(p)),
            Err(e) if is_end_of_stream(&e) => Ok(None),
            Err(SymError::ResetRequired) => Ok(None),
            Err(e) if after_good_packets => {
                first_error.get_or_insert(e.to_string());
                Ok(None)
            }
            Err(e) => Err(self.corrupt(e.to_string())),
        }
    }

    /// The next packet's audio, decoded and interleaved into `buf` (made or grown as needed): its channel count
    /// and samples, or `None` at the end of the stream. A packet that does not decode is skipped, counted in
    /// `count.skipped` with its error kept in `first_error`.
    pub(crate) fn next_interleaved<'b>(
        &mut self,
        buf: &'b mut Option<SampleBuffer<f32>>,
        count: &mut Packets,
        first_error: &mut Option<String>,
    ) -> Result<Option<(usize, &'b [f32])>, AudioError> {
        loop {
            let Some(packet) = self.read_packet(count.decoded > 0, first_error)? else { return Ok(None) };
            let audio = match self.decoder.decode(&packet) {
                Ok(audio) => audio,
                Err(SymError::DecodeError(e)) => {
                    count.skipped += 1;
                    first_error.get_or_insert(e.to_string());
                    continue;
                }
                Err(e) => return Err(self.corrupt(e.to_string())),
            };
            count.decoded += 1;
            let spec = *audio.spec();
            let channels = spec.channels.count().max(1);
            if buf.as_ref().is_none_or(|b| b.capacity() < audio.frames() * channels) {
                *buf = Some(SampleBuffer::<f32>::new(audio.capacity() as u64, spec));
            }
            let Some(b) = buf.as_mut() else { unreachable!("made above") };
            b.copy_interleaved_ref(audio);
            return Ok(Some((channels, b.samples())));
        }
    }

    fn next_packet(&mut self) -> Result<Packet, SymError> {
        match self.first_packet.take() {
            Some(p) => Ok(p),
            None => next_packet_of(self.format.as_mut(), self.track_id),
        }
    }

    pub(crate) fn header_error(&self, reason: impl Into<String>) -> AudioError {
        AudioError::InvalidHeader { container: self.container.into(), reason: reason.into() }
    }

    pub(crate) fn truncated(&self, reason: impl Into<String>) -> AudioError {
        AudioError::Truncated { container: self.container.into(), reason: reason.into() }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> AudioError {
        AudioError::Corrupt { container: self.container.into(), reason: reason.into() }
    }

    /// Metadata for a stream of `frames` frames. Bit rate is exact for PCM, the file average otherwise.
    pub(crate) fn metadata(&self, frames: u64) -> AudioMetadata {
        let duration_s = frames as f64 / f64::from(self.sample_rate);
        let bit_rate = if self.codec.starts_with("pcm_") {
            self.bits_per_coded_sample.map(|bits| u64::from(self.sample_rate) * self.channels as u64 * u64::from(bits))
        } else if duration_s > 0.0 {
            Some((self.size as f64 * 8.0 / duration_s).round() as u64)
        } else {
            None
        };
        AudioMetadata {
            container: self.container.into(),
            codec: self.codec.clone(),
            duration_s: (duration_s * 1000.0).round() / 1000.0,
            sample_rate: self.sample_rate,
            channels: self.channels as u16,
            bit_rate,
            size_bytes: self.size,
        }
    }
}

/// Runs `f`, turning a panic inside a third-party decoder into a classified error.
pub(crate) fn guarded<T>(container: &str, f: impl FnOnce() -> Result<T, AudioError>) -> Result<T, AudioError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        Err(AudioError::Corrupt { container: container.into(), reason: format!("decoder panicked: {what}") })
    })
}

/// Opens `source`: sniffs the container, lets symphonia read the header, and validates what it declares.
pub(crate) fn open(mut source: Source) -> Result<Opened, AudioError> {
    let size = source.size();
    if size == 0 {
        return Err(AudioError::Empty);
    }
    let head = source.head(SNIFF_LEN.max(512))?;
    let Some(container) = sniff::container(&head) else {
        return Err(AudioError::NotAudio(sniff::describe_non_audio(&head).into()));
    };
    guarded(container, || open_container(source, container, size))
}

fn open_container(source: Source, container: &'static str, size: u64) -> Result<Opened, AudioError> {
    let header_error = |reason: String| AudioError::InvalidHeader { container: container.into(), reason };
    let mut hint = Hint::new();
    hint.with_extension(sniff::hint_extension(container));
    let mss = MediaSourceStream::new(source.into_media_source(), MediaSourceStreamOptions::default());
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions { enable_gapless: true, ..Default::default() }, &MetadataOptions::default())
        .map_err(|e| match e {
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                AudioError::Truncated { container: container.into(), reason: "the header ends early".into() }
            }
            SymError::Unsupported(what) => header_error(format!("unsupported: {what}")),
            other => header_error(other.to_string()),
        })?;
    let format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::NoAudioTrack { container: container.into() })?;
    let params = track.codec_params.clone();
    let track_id = track.id;
    let codec = symphonia::default::get_codecs()
        .get_codec(params.codec)
        .map(|d| d.short_name.to_string())
        .unwrap_or_else(|| format!("codec_{}", params.codec));

    let sample_rate = params.sample_rate.ok_or_else(|| header_error("no sample rate".into()))?;
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
        return Err(header_error(format!(
            "sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
        )));
    }
    let decoder = symphonia::default::get_codecs().make(&params, &DecoderOptions::default()).map_err(|e| match e {
        SymError::Unsupported(_) => AudioError::UnsupportedCodec { container: container.into(), codec: codec.clone() },
        other => header_error(other.to_string()),
    })?;
    let mut format = format;
    let mut decoder = decoder;
    let mut first_packet = None;
    let mut channels = params.channels.or(decoder.codec_params().channels).map(|c| c.count()).unwrap_or(0);
    if channels == 0 {
        // Some containers (AAC in MP4) leave the channel layout to the codec: decode the first packet to learn
        // it, and keep the packet so the stream is still read from its start.
        if let Ok(packet) = next_packet_of(format.as_mut(), track_id) {
            if let Ok(audio) = decoder.decode(&packet) {
                channels = audio.spec().channels.count();
            }
            decoder.reset();
            first_packet = Some(packet);
        }
    }
    if !(1..=MAX_CHANNELS).contains(&channels) {
        return Err(header_error(format!("{channels} channels is outside 1..={MAX_CHANNELS}")));
    }
    let bits_per_coded_sample = params.bits_per_coded_sample.or(params.bits_per_sample).or_else(|| pcm_bits(&codec));
    Ok(Opened {
        container,
        codec,
        format,
        decoder,
        track_id,
        sample_rate,
        channels,
        declared_frames: params.n_frames,
        first_packet,
        bits_per_coded_sample,
        size,
    })
}

/// Bits per sample of a PCM codec from its short name (`pcm_f32le` → 32, `pcm_mulaw` → 8).
fn pcm_bits(codec: &str) -> Option<u32> {
    let rest = codec.strip_prefix("pcm_")?;
    if rest.ends_with("law") {
        return Some(8);
    }
    rest.trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

fn next_packet_of(format: &mut dyn FormatReader, track_id: u32) -> Result<Packet, SymError> {
    loop {
        let packet = format.next_packet()?;
        if packet.track_id() == track_id {
            return Ok(packet);
        }
    }
}

/// Whether a symphonia error means "the stream ended" (possibly early) rather than "the data is bad".
pub(crate) fn is_end_of_stream(e: &SymError) -> bool {
    matches!(e, SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// The slack allowed between the frames a header declares and the frames present. PCM frames are exact, so only
/// a partial last frame is forgiven (10 ms); compressed codecs add encoder delay and padding (a few thousand
/// frames for MP3 and AAC), so they get 1 %, at least 100 ms and 8192 frames.
pub(crate) fn frame_slack(declared: u64, sample_rate: u32, codec: &str) -> u64 {
    if codec.starts_with("pcm_") {
        return (u64::from(sample_rate) / 100).max(1);
    }
    (declared / 100).max(u64::from(sample_rate) / 10).max(8192)
}

/// Reads the metadata of a recording.
///
/// The header is validated (sample rate, channels), the first packets are decoded to prove the data is audio,
/// and the rest is demuxed without decoding to count the frames actually present: a header that declares more
/// audio than the data holds is [`AudioError::Truncated`].
pub fn probe(source: Source) -> Result<AudioMetadata, AudioError> {
    probe_within(source, None)
}

/// [`probe`] of a recording that may be at most `max_duration_s` long: one whose header declares more fails
/// `TooLong` before any packet is read, and one without a declared length as soon as its packets pass it.
pub fn probe_within(source: Source, max_duration_s: Option<f64>) -> Result<AudioMetadata, AudioError> {
    let mut opened = open(source)?;
    let container = opened.container;
    if let (Some(limit), Some(frames)) = (max_duration_s, opened.declared_frames) {
        let duration_s = frames as f64 / f64::from(opened.sample_rate);
        if duration_s > limit {
            return Err(AudioError::TooLong { duration_s, limit_s: limit });
        }
    }
    guarded(container, move || scan(&mut opened, max_duration_s))
}

fn scan(o: &mut Opened, max_duration_s: Option<f64>) -> Result<AudioMetadata, AudioError> {
    let mut end_frame: u64 = 0;
    let mut packets = 0usize;
    let mut decoded = 0usize;
    let mut decode_errors = 0usize;
    let mut first_error: Option<String> = None;
    while let Some(packet) = o.read_packet(packets > 0, &mut first_error)? {
        packets += 1;
        end_frame = end_frame.max(packet.ts.saturating_add(packet.dur));
        if let Some(limit) = max_duration_s {
            let duration_s = end_frame as f64 / f64::from(o.sample_rate);
            if duration_s > limit {
                return Err(AudioError::TooLong { duration_s, limit_s: limit });
            }
        }
        if decoded + decode_errors < VERIFY_PACKETS {
            match o.decoder.decode(&packet) {
                Ok(_) => decoded += 1,
                Err(SymError::DecodeError(e)) => {
                    decode_errors += 1;
                    first_error.get_or_insert(e.to_string());
                }
                Err(e) => return Err(o.corrupt(e.to_string())),
            }
        }
    }
    if packets == 0 || end_frame == 0 {
        return Err(o.truncated("no audio data after the header"));
    }
    if decoded == 0 {
        return Err(o.corrupt(first_error.unwrap_or_else(|| "no packet decodes".into())));
    }
    if decode_errors * 2 > decoded + decode_errors {
        return Err(o.corrupt(format!(
            "{decode_errors} of the first {} packets fail to decode: {}",
            decoded + decode_errors,
            first_error.unwrap_or_default()
        )));
    }
    let frames = match o.declared_frames {
        Some(declared) if end_frame + frame_slack(declared, o.sample_rate, &o.codec) < declared => {
            return Err(o.truncated(format!(
                "the header declares {:.2} s of audio but the data holds {:.2} s",
                declared as f64 / f64::from(o.sample_rate),
                end_frame as f64 / f64::from(o.sample_rate)
            )));
        }
        Some(declared) => declared,
        None => end_frame,
    };
    Ok(o.metadata(frames))
}
