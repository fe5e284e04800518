/// A long-form (tidy) CSV beside results.csv: a fixed header, rows appended
/// one measurement at a time (one write and an fsync each), a torn last
/// record dropped when the file is reopened. server-metrics.csv and
/// latency-by-class.csv are made of it.
///
/// Owned by one thread (the runner's); not Sendable on purpose.
final class LongCSV {
    let header: [String]
    private let file: DurableFile

    /// Opens (creating if needed) the file; an existing one must have `header`.
    init(path: String, header: [String]) throws(ResultsError) {
        self.header = header
        let (file, existing) = try DurableFile.open(path: path, headerLine: header.joined(separator: ",") + "\n")
        self.file = file
        let (records, complete) = CSVRecords.split(existing)
        guard records.first == header else {
            throw ResultsError(message: "\(path): header differs from this version's columns "
                + "(\(header.joined(separator: ","))); move the file aside or start a fresh run")
        }
        if complete < existing.count { try file.truncate(to: complete) }
    }

    func append(_ rows: [[String]]) throws(ResultsError) {
        guard !rows.isEmpty else { return }
        try file.write(rows.map { $0.map(ResultsCSV.quote).joined(separator: ",") + "\n" }.joined())
    }

    /// The records after the header of a file; a missing file has none.
    static func records(path: String, header: [String]) throws(ResultsError) -> [[String]] {
        let bytes = try readFile(path)
        guard !bytes.isEmpty else { return [] }
        let records = CSVRecords.split(bytes).records
        guard records.first == header else { throw ResultsError(message: "\(path): unexpected header") }
        let rows = Array(records.dropFirst().filter { $0 != [""] })
        for (index, record) in rows.enumerated() where record.count != header.count {
            throw ResultsError(message: "\(path): record \(index + 2) is malformed")
        }
        return rows
    }
}
