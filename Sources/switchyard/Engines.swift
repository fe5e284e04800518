import ArgumentParser
import EngineCore
import Engines

struct Engines: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the I/O engines, whether each can run on this machine, and why not.")

    @Flag(help: "Print name<TAB>available<TAB>reason lines for scripts.")
    var plain = false

    func run() {
        let rows = EngineRegistry.all.map { engine -> (String, String, String) in
            switch engine.availability() {
            case .available: (engine.name, "yes", engine.summary)
            case .unavailable(let reason): (engine.name, "no", reason)
            }
        }
        if plain {
            for row in rows { print("\(row.0)\t\(row.1)\t\(row.2)") }
            return
        }
        let width = max(6, rows.map(\.0.count).max() ?? 0)
        print("ENGINE".padding(width) + "  AVAILABLE  DESCRIPTION / REASON")
        for row in rows {
            print(row.0.padding(width) + "  " + row.1.padding(9) + "  " + row.2)
        }
        for engine in EngineRegistry.all {
            let details = engine.details()
            guard !details.isEmpty else { continue }
            print("")
            for line in details { print(line) }
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
