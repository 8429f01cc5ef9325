//! Module zips for the lab proxy, written with the `zip` crate.

use std::io::Write;

/// Builds a zip archive holding `entries` (name with `/` separators,
/// contents), stored uncompressed; Go accepts any valid zip whose names
/// start with `module@version/` (golang.org/x/mod/zip).
pub fn build(entries: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(name.as_str(), opts)
            .map_err(std::io::Error::other)?;
        w.write_all(data)?;
    }
    Ok(w.finish().map_err(std::io::Error::other)?.into_inner())
}

#[cfg(test)]
mod tests {
    #[test]
    fn archive_reads_back_with_names_and_contents() {
        let bytes = super::build(&[("m@v1.0.0/go.mod".into(), b"module m\n".to_vec())]).unwrap();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut f = z.by_name("m@v1.0.0/go.mod").unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).unwrap();
        assert_eq!(s, "module m\n");
    }
}
