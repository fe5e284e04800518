import TOMLKit

/// A TOML document copied out of TOMLKit into plain Swift values.
///
/// TOMLKit's tables and arrays are classes over toml++ pointers: not Sendable
/// and awkward to pattern-match. Validation walks this enum instead, so it
/// reads as a plain `switch`, and the only code that touches TOMLKit is this
/// file.
enum SpecValue: Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([SpecValue])
    /// Keys sorted, so every error report walks them in the same order.
    case table([(key: String, value: SpecValue)])
    /// Dates and times: the spec never uses them, but the name lets an error
    /// say what was found.
    case other(typeName: String)

    static func == (lhs: SpecValue, rhs: SpecValue) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.table(a), .table(b)): a.map(\.key) == b.map(\.key) && a.map(\.value) == b.map(\.value)
        case let (.other(a), .other(b)): a == b
        default: false
        }
    }

    /// The words an error uses for what it found ("got array").
    var typeName: String {
        switch self {
        case .string: "string"
        case .int: "integer"
        case .double: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        case .other(let name): name
        }
    }

    /// Parses TOML text; a syntax error comes back with its line and column.
    static func parse(_ text: String) throws(SpecSyntaxError) -> SpecValue {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw SpecSyntaxError(
                line: error.source.begin.line, column: error.source.begin.column, message: error.description)
        } catch {
            throw SpecSyntaxError(line: 0, column: 0, message: "\(error)")
        }
        return SpecValue(table)
    }

    private init(_ node: any TOMLValueConvertible) {
        switch node.type {
        case .string: self = .string(node.string ?? "")
        case .int: self = .int(node.int ?? 0)
        case .double: self = .double(node.double ?? 0)
        case .bool: self = .bool(node.bool ?? false)
        case .array: self = .array((node.array.map { Array($0) } ?? []).map(SpecValue.init))
        case .table:
            guard let table = node.table else { self = .table([]); return }
            self = .table(table.keys.sorted().compactMap { key in table[key].map { (key, SpecValue($0)) } })
        case .date: self = .other(typeName: "date")
        case .time: self = .other(typeName: "time")
        case .dateTime: self = .other(typeName: "date-time")
        }
    }
}

/// The text is not TOML at all: reported with toml++'s position.
struct SpecSyntaxError: Error {
    var line: Int
    var column: Int
    var message: String
}
