use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

/// A gzip-compressed tar of regular files.
pub fn build_tgz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = TarBuilder::new();
    for (p, d) in entries {
        b.file(p, d);
    }
    b.tgz()
}

/// Gzip `data` (default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("in-memory write");
    e.finish().expect("in-memory write")
}

#[derive(Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A raw entry: any path bytes (≤ 100 bytes; longer paths get a GNU `L` header), type byte, link
    /// name and content.
    pub fn entry(&mut self, path: &[u8], type_byte: u8, link: &[u8], data: &[u8]) -> &mut Self {
        if path.len() > 100 {
            let mut long = path.to_vec();
            long.push(0);
            self.push_header(b"././@LongLink", b'L', b"", long.len() as u64, None);
            self.push_data(&long);
        }
        let name = &path[..path.len().min(100)];
        self.push_header(name, type_byte, link, data.len() as u64, None);
        self.push_data(data);
        self
    }

    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.entry(path.as_bytes(), b'0', b"", data)
    }
    pub fn raw_file(&mut self, path: &[u8], data: &[u8]) -> &mut Self {
        self.entry(path, b'0', b"", data)
    }
    pub fn dir(&mut self, path: &str) -> &mut Self {
        self.entry(path.as_bytes(), b'5', b"", b"")
    }
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.entry(path.as_bytes(), b'2', target.as_bytes(), b"")
    }
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.entry(path.as_bytes(), b'1', target.as_bytes(), b"")
    }
    pub fn fifo(&mut self, path: &str) -> &mut Self {
        self.entry(path.as_bytes(), b'6', b"", b"")
    }
    pub fn char_device(&mut self, path: &str) -> &mut Self {
        self.entry(path.as_bytes(), b'3', b"", b"")
    }
    /// A file whose path is carried by a pax `x` header (the ustar name field holds `short`).
    pub fn pax_file(&mut self, short: &str, long: &str, data: &[u8]) -> &mut Self {
        let rec = pax_record("path", long);
        self.push_header(b"PaxHeader", b'x', b"", rec.len() as u64, None);
        self.push_data(rec.as_bytes());
        self.file(short, data)
    }
    /// A regular-file header whose checksum field is wrong.
    pub fn bad_checksum_file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.push_header(path.as_bytes(), b'0', b"", data.len() as u64, Some(1));
        self.push_data(data);
        self
    }
    /// A regular-file header claiming `size` bytes, followed by nothing (for truncation tests).
    pub fn header_only(&mut self, path: &str, size: u64) -> &mut Self {
        self.push_header(path.as_bytes(), b'0', b"", size, None);
        self
    }

    /// The tar bytes with the two zero end-of-archive blocks.
    pub fn tar(&self) -> Vec<u8> {
        let mut t = self.out.clone();
        t.extend_from_slice(&[0u8; 1024]);
        t
    }
    /// The tar without end-of-archive blocks.
    pub fn tar_unterminated(&self) -> Vec<u8> {
        self.out.clone()
    }
    pub fn tgz(&self) -> Vec<u8> {
        gzip(&self.tar())
    }

    fn push_data(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
    }

    fn push_header(
        &mut self,
        name: &[u8],
        type_byte: u8,
        link: &[u8],
        size: u64,
        bad_sum: Option<u32>,
    ) {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        let sz = format!("{size:011o}\0");
        h[124..136].copy_from_slice(sz.as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = type_byte;
        let l = link.len().min(100);
        h[157..157 + l].copy_from_slice(&link[..l]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum::<u32>() + bad_sum.unwrap_or(0);
        let cs = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(cs.as_bytes());
        self.out.extend_from_slice(&h);
    }
}

fn pax_record(key: &str, value: &str) -> String {
    // "<len> <key>=<value>\n" where len counts itself.
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}
