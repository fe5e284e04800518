import ArgumentParser

@main
struct Switchyard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchyard",
        abstract: "One HTTP/1.1 server on interchangeable I/O engines, for studying engine design.",
        subcommands: [Serve.self, ConfigCommand.self, Engines.self, TopologyCommand.self, Load.self, SweepCommand.self, HTTPReplayCommand.self],
        defaultSubcommand: nil)
}
