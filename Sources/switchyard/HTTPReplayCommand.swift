import ArgumentParser
import Experiments
import HTTPReplay

/// `switchyard http-replay FILE...`: each file's bytes through one HTTP/1.1
/// session (in one read), printed as a JSON line of what the session decided:
/// the requests it accepted and how the input ended. The differential check
/// (`Tests/fuzz/differential.py`) compares these lines with Python's h11.
struct HTTPReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http-replay",
        abstract: "Replay raw HTTP/1.1 request bytes through the session and print its decisions as JSON lines.")

    @Argument(help: "Files of raw request bytes.")
    var files: [String]

    func run() throws {
        for file in files {
            guard let bytes = readWholeBytes(file) else { throw ValidationError("\(file): cannot be read") }
            let result = SessionReplay.run(pieces: [bytes])
            let requests = result.requests.map {
                "{\"method\": \(jsonString($0.method)), \"target\": \(jsonString($0.target)), \"body\": \($0.bodyCount)}"
            }
            let status = result.rejectionStatus.map(String.init) ?? "null"
            print("{\"file\": \(jsonString(file)), \"requests\": [\(requests.joined(separator: ", "))], "
                + "\"outcome\": \"\(result.outcome.rawValue)\", \"status\": \(status)}")
        }
    }
}

