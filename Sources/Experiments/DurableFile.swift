#if canImport(Glibc)
import Glibc
#endif

/// An append-only text file whose every write is on disk before `write`
/// returns: what results.csv and server-metrics.csv are built on, so a
/// sweep killed at any moment loses at most the measurement in progress.
///
/// Owned by one thread (the runner's); not Sendable on purpose.
final class DurableFile {
    let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Opens `path` for appending, creating it if needed, and returns the
    /// bytes it already held. A file with no complete record yet (new,
    /// empty, or a crash tore the header) is started over with `headerLine`;
    /// the returned bytes are then that header.
    static func open(path: String, headerLine: String) throws(ResultsError) -> (DurableFile, [UInt8]) {
        let existing = try readFile(path)
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw ResultsError.system("cannot open \(path)", errno) }
        let file = DurableFile(path: path, descriptor: descriptor)
        guard CSVRecords.split(existing).records.allSatisfy({ $0 == [""] }) else { return (file, existing) }
        if !existing.isEmpty { try file.truncate(to: 0) }
        try file.write(headerLine)
        // The new file's name must survive a crash too: sync its folder.
        syncDirectory(of: path)
        return (file, Array(headerLine.utf8))
    }

    /// Appends `text` and fsyncs.
    func write(_ text: String) throws(ResultsError) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            // safety: the pointer is valid for the closure; count stays within the array.
            let written = bytes.withUnsafeMutableBytes { buffer in
                Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw ResultsError.system("cannot write \(path)", errno)
            }
            offset += written
        }
        // One fsync per measurement: the measurement took seconds, this takes milliseconds.
        guard fsync(descriptor) == 0 else { throw ResultsError.system("cannot fsync \(path)", errno) }
    }

    /// Cuts the file to `length` bytes (a torn last line) and fsyncs.
    func truncate(to length: Int) throws(ResultsError) {
        guard ftruncate(descriptor, off_t(length)) == 0, fsync(descriptor) == 0 else {
            throw ResultsError.system("cannot truncate \(path)", errno)
        }
    }
}

/// The whole file, or nothing if it does not exist.
func readFile(_ path: String) throws(ResultsError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    if descriptor < 0 {
        if errno == ENOENT { return [] }
        throw ResultsError.system("cannot open \(path)", errno)
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        // safety: read fills at most chunk.count bytes of the chunk's own storage.
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw ResultsError.system("cannot read \(path)", errno)
        }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[..<count])
    }
}

/// fsyncs the folder holding `path`, so a newly created name is durable.
/// Best effort: a failure here leaves the data itself safe.
func syncDirectory(of path: String) {
    let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
    let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
}
