/// A route pattern checked and cut into the pieces the tree stores.
///
/// Syntax: literal bytes, `:name` (runs to the next "/" or the end of the
/// pattern) and `*name` (must end the pattern). A capture may start anywhere,
/// also in the middle of a segment ("/v:version").
struct RoutePattern {
    enum Token: Equatable {
        /// Never empty: adjacent literal bytes are merged.
        case literal([UInt8])
        case parameter(name: String)
        case wildcard(name: String)
    }

    let text: String
    let tokens: [Token]

    init(_ text: String) throws(RouteError) {
        self.text = text
        let bytes = Array(text.utf8)
        guard let first = bytes.first else {
            throw RouteError(.empty, pattern: text, "pattern is empty")
        }
        guard first == Byte.slash else {
            throw RouteError(.missingLeadingSlash, pattern: text, "pattern must start with \"/\"")
        }

        var tokens: [Token] = []
        var literal: [UInt8] = []
        var names: [String] = []
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            guard byte == Byte.colon || byte == Byte.star else {
                literal.append(byte)
                i += 1
                continue
            }
            var end = i + 1
            if byte == Byte.colon {
                while end < bytes.count, bytes[end] != Byte.slash { end += 1 }
            } else {
                end = bytes.count
                if bytes[(i + 1)...].contains(Byte.slash) {
                    throw RouteError(
                        .wildcardNotLast, pattern: text,
                        "wildcard \"\(String(decoding: bytes[i...], as: UTF8.self))\" must be the last part of the pattern"
                    )
                }
            }
            let name = try Self.captureName(bytes[(i + 1)..<end], sigil: byte, known: names, pattern: text)
            names.append(name)
            if !literal.isEmpty {
                tokens.append(.literal(literal))
                literal.removeAll()
            }
            tokens.append(byte == Byte.colon ? .parameter(name: name) : .wildcard(name: name))
            i = end
        }
        if !literal.isEmpty { tokens.append(.literal(literal)) }
        self.tokens = tokens
    }

    private static func captureName(
        _ bytes: ArraySlice<UInt8>, sigil: UInt8, known: [String], pattern: String
    ) throws(RouteError) -> String {
        let sigilText = sigil == Byte.colon ? ":" : "*"
        guard !bytes.isEmpty else {
            throw RouteError(
                .emptyParameterName, pattern: pattern, "\"\(sigilText)\" must be followed by a parameter name")
        }
        let name = String(decoding: bytes, as: UTF8.self)
        // A sigil inside a name ("/:a:b", "/*a*b") has no sensible meaning;
        // refusing it keeps the syntax unambiguous.
        guard !bytes.contains(Byte.colon), !bytes.contains(Byte.star) else {
            throw RouteError(
                .invalidParameterName, pattern: pattern,
                "parameter name \"\(name)\" must not contain \":\" or \"*\"")
        }
        // Lookup by name returns the first match, so a repeated name would
        // silently hide the later capture.
        guard !known.contains(name) else {
            throw RouteError(.duplicateParameterName, pattern: pattern, "parameter name \"\(name)\" is used twice")
        }
        guard known.count < RouteParameters.capacity else {
            throw RouteError(
                .tooManyParameters, pattern: pattern,
                "more than \(RouteParameters.capacity) parameters")
        }
        return name
    }
}

/// The ASCII bytes the pattern syntax and the lookup care about.
enum Byte {
    static let slash = UInt8(ascii: "/")
    static let colon = UInt8(ascii: ":")
    static let star = UInt8(ascii: "*")
}
