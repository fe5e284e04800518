#if canImport(Glibc)
import Glibc
#endif

/// results.csv of one experiment, opened for appending.
///
/// Each `append` writes one whole line and fsyncs before returning, so a
/// sweep killed at any moment loses at most the measurement in progress.
/// Opening reads back what is already there (for resume) and cuts off a
/// line that a crash left half-written, so the file stays valid CSV.
///
/// Owned by one thread (the runner's); not Sendable on purpose.
public final class ResultsCSV {
    /// The header, in column order.
    public static let header: [String] = ResultColumn.all.map(\.name)

    public let path: String
    /// Rows read at open plus those appended since, in file order.
    public private(set) var rows: [ResultRow]
    private let file: DurableFile

    /// Opens (creating if needed) the file at `path`. A new or empty file
    /// gets the header; an existing one must have exactly our header, since
    /// appending rows of another layout would corrupt it silently.
    public init(path: String) throws(ResultsError) {
        self.path = path
        let (file, existing) = try DurableFile.open(path: path, headerLine: Self.headerLine)
        self.file = file
        let parsed = try Self.parse(existing, source: path)
        rows = parsed.rows
        if parsed.completeByteCount < existing.count {
            try file.truncate(to: parsed.completeByteCount)
        }
    }

    /// Writes one row and waits until it is on disk.
    public func append(_ row: ResultRow) throws(ResultsError) {
        try file.write(Self.line(for: row))
        rows.append(row)
    }

    /// Renames an existing results file to the first free `<path>.N`, for a
    /// fresh sweep that must not destroy an earlier one. Returns the new
    /// name, or nil when there was nothing to move.
    @discardableResult
    public static func setAside(path: String) throws(ResultsError) -> String? {
        guard access(path, F_OK) == 0 else { return nil }
        var number = 1
        while access("\(path).\(number)", F_OK) == 0 { number += 1 }
        let target = "\(path).\(number)"
        guard rename(path, target) == 0 else { throw ResultsError.system("cannot rename \(path)", errno) }
        return target
    }

    // MARK: Encoding

    static var headerLine: String { header.map(quote).joined(separator: ",") + "\n" }

    /// One row as a CSV line with its newline: RFC 4180 quoting, LF ending.
    public static func line(for row: ResultRow) -> String {
        ResultColumn.all.map { quote($0.encode(row)) }.joined(separator: ",") + "\n"
    }

    /// Quotes a field only when it must be: it holds a comma, a quote or a
    /// line break (quotes inside are doubled).
    static func quote(_ field: String) -> String {
        let needsQuotes = field.utf8.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n")
                || $0 == UInt8(ascii: "\r")
        }
        guard needsQuotes else { return field }
        return "\"" + field.replacingAll("\"", with: "\"\"") + "\""
    }

    // MARK: Decoding

    /// Reads a whole results file; a missing file has no rows.
    public static func read(path: String) throws(ResultsError) -> [ResultRow] {
        let bytes = try readFile(path)
        if bytes.isEmpty { return [] }
        return try parse(bytes, source: path).rows
    }

    /// Parses results text. A last record without its line end is a torn
    /// write: it is left out, and `completeByteCount` says where it begins.
    static func parse(_ bytes: [UInt8], source: String) throws(ResultsError)
        -> (rows: [ResultRow], completeByteCount: Int)
    {
        let (records, complete) = CSVRecords.split(bytes)
        guard let header = records.first else {
            throw ResultsError(message: "\(source): no header line")
        }
        guard header == Self.header else {
            throw ResultsError(message: "\(source): header differs from this version's columns "
                + "(\(Self.header.joined(separator: ","))); move the file aside or start a fresh run")
        }
        var rows: [ResultRow] = []
        for (index, record) in records.enumerated().dropFirst() {
            let lineNumber = index + 1
            if record == [""] { continue }  // a blank line
            guard record.count == Self.header.count else {
                throw ResultsError(message: "\(source): record \(lineNumber) has \(record.count) fields, "
                    + "expected \(Self.header.count)")
            }
            var row = ResultRow.blank
            for (column, text) in zip(ResultColumn.all, record) where !column.decode(&row, text) {
                throw ResultsError(message: "\(source): record \(lineNumber), column \(column.name): "
                    + "invalid value \"\(text)\"")
            }
            rows.append(row)
        }
        return (rows, complete)
    }

    public static func parse(_ text: String, source: String = "results.csv") throws(ResultsError) -> [ResultRow] {
        try parse(Array(text.utf8), source: source).rows
    }
}

/// A results file could not be read, written or understood.
public struct ResultsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    static func system(_ what: String, _ code: Int32) -> ResultsError {
        ResultsError(message: "\(what): \(String(cString: strerror(code)))")
    }
}

extension ResultRow {
    /// Starting point for decoding; every column overwrites its field.
    static var blank: ResultRow {
        let point = ExperimentPoint(
            engine: "", isReference: false, threads: nil, pin: nil, accept: nil, connections: 0, pipeline: 0,
            rate: nil)
        return ResultRow(experiment: "", run: ScheduledRun(point: point, repetition: 0), arrivals: .constant,
                         startedAt: "")
    }
}

/// RFC 4180 record splitting over bytes (so offsets are byte offsets).
enum CSVRecords {
    /// Returns the complete records and the byte count they span. Accepts
    /// LF and CRLF line ends; a quoted field may hold either.
    static func split(_ bytes: [UInt8]) -> (records: [[String]], completeByteCount: Int) {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        var complete = 0
        var inQuotes = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inQuotes {
                if byte == quote {
                    if index + 1 < bytes.count, bytes[index + 1] == quote {
                        field.append(quote)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    field.append(byte)
                }
            } else if byte == quote {
                inQuotes = true
            } else if byte == comma {
                record.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else if byte == lf || byte == cr {
                if byte == cr, index + 1 < bytes.count, bytes[index + 1] == lf { index += 1 }
                record.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
                records.append(record)
                record.removeAll()
                complete = index + 1
            } else {
                field.append(byte)
            }
            index += 1
        }
        return (records, complete)
    }
}

