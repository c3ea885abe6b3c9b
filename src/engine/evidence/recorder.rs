//! `--write FILE`: every frame the console captures, as pcapng, with tcpdump's rotation: `-C`
//! starts a new file once the current one holds that many million bytes (FILE, FILE1, FILE2,
//! …), and with `-W N` the names cycle through N files (FILE0 … FILE{N-1}, numbers padded to
//! the same width), overwriting the oldest.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{EvidenceError, PcapngFile};

/// How to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    /// The file (the first of them, when rotating).
    pub path: PathBuf,
    /// Start a new file past this many bytes (`-C` million bytes).
    pub rotate_bytes: Option<u64>,
    /// Cycle through this many files (`-W`).
    pub files: Option<u32>,
}

/// Writes frames to pcapng files, rotating them.
pub struct Recorder {
    cfg: RecordConfig,
    linktype: u32,
    snaplen: u32,
    /// Which file of the rotation is open.
    index: u32,
    file: PcapngFile<BufWriter<File>>,
    /// Frames written, over all files.
    pub frames: u64,
    /// Files started.
    pub files_started: u64,
}

/// The name of file `index` of a rotation, as tcpdump names it.
pub fn file_name(cfg: &RecordConfig, index: u32) -> PathBuf {
    match (cfg.rotate_bytes, cfg.files) {
        (_, Some(n)) if n > 0 => {
            let width = (n.max(2) - 1).to_string().len();
            suffixed(&cfg.path, &format!("{index:0width$}"))
        }
        (Some(_), _) if index > 0 => suffixed(&cfg.path, &index.to_string()),
        _ => cfg.path.clone(),
    }
}

fn suffixed(p: &Path, s: &str) -> PathBuf {
    let mut name = p.as_os_str().to_owned();
    name.push(s);
    PathBuf::from(name)
}

fn open(path: &Path, linktype: u32, snaplen: u32) -> Result<PcapngFile<BufWriter<File>>, EvidenceError> {
    let err = |reason: String| EvidenceError::Write { path: path.display().to_string(), reason };
    let f = File::create(path).map_err(|e| err(e.to_string()))?;
    PcapngFile::start(BufWriter::with_capacity(1 << 20, f), linktype, snaplen).map_err(err)
}

impl Recorder {
    /// Opens the first file for frames of `linktype` (libpcap's number).
    ///
    /// # Errors
    /// The file cannot be created.
    pub fn open(cfg: RecordConfig, linktype: u32, snaplen: u32) -> Result<Recorder, EvidenceError> {
        let file = open(&file_name(&cfg, 0), linktype, snaplen)?;
        Ok(Recorder { cfg, linktype, snaplen, index: 0, file, frames: 0, files_started: 1 })
    }

    /// Writes a frame, first starting the next file if this one is full.
    ///
    /// # Errors
    /// Writing failed (the recording should stop, and say so).
    pub fn frame(&mut self, ts_us: i64, data: &[u8], wire_len: u32) -> Result<(), EvidenceError> {
        if self.cfg.rotate_bytes.is_some_and(|max| self.file.written >= max) {
            self.rotate()?;
        }
        let path = || file_name(&self.cfg, self.index).display().to_string();
        self.file
            .packet(ts_us, data, wire_len)
            .map_err(|reason| EvidenceError::Write { path: path(), reason })?;
        self.frames += 1;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), EvidenceError> {
        self.flush()?;
        self.index = match self.cfg.files {
            Some(n) if n > 0 => (self.index + 1) % n,
            _ => self.index.saturating_add(1),
        };
        self.file = open(&file_name(&self.cfg, self.index), self.linktype, self.snaplen)?;
        self.files_started += 1;
        Ok(())
    }

    /// Flushes the open file (on a snapshot tick, and at the end).
    ///
    /// # Errors
    /// Writing failed.
    pub fn flush(&mut self) -> Result<(), EvidenceError> {
        let path = file_name(&self.cfg, self.index).display().to_string();
        self.file.flush().map_err(|reason| EvidenceError::Write { path, reason })
    }

    /// The file being written.
    pub fn current(&self) -> PathBuf {
        file_name(&self.cfg, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(path: &str, c: Option<u64>, w: Option<u32>) -> RecordConfig {
        RecordConfig { path: path.into(), rotate_bytes: c, files: w }
    }

    #[test]
    fn names_as_tcpdump() {
        let plain = cfg("/t/x.pcapng", None, None);
        assert_eq!(file_name(&plain, 0), PathBuf::from("/t/x.pcapng"));
        let c = cfg("/t/x.pcapng", Some(1), None);
        assert_eq!(file_name(&c, 0), PathBuf::from("/t/x.pcapng"));
        assert_eq!(file_name(&c, 3), PathBuf::from("/t/x.pcapng3"));
        let w = cfg("/t/x", Some(1), Some(12));
        assert_eq!(file_name(&w, 0), PathBuf::from("/t/x00"));
        assert_eq!(file_name(&w, 11), PathBuf::from("/t/x11"));
        assert_eq!(file_name(&cfg("/t/x", Some(1), Some(3)), 2), PathBuf::from("/t/x2"));
    }

    #[test]
    fn rotates_through_w_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path().join("r.pcapng");
        let c = RecordConfig { path: base.clone(), rotate_bytes: Some(1000), files: Some(3) };
        let mut r = Recorder::open(c.clone(), 1, 65535).expect("open");
        let frame = [0u8; 300];
        for i in 0..40 {
            r.frame(1_700_000_000_000_000 + i, &frame, 300).expect("write");
        }
        r.flush().expect("flush");
        assert_eq!(r.frames, 40);
        assert!(r.files_started > 3, "{}", r.files_started);
        let names: Vec<_> = (0..3).map(|i| file_name(&c, i)).collect();
        for n in &names {
            let len = std::fs::metadata(n).expect("rotated file").len();
            // A file is cut after the block that takes it past 1000 bytes.
            assert!(len <= 1000 + 332 + 100, "{}: {len}", n.display());
        }
        assert!(!dir.path().join("r.pcapng3").exists());
    }
}
