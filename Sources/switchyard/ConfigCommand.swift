import ArgumentParser

/// `switchyard config check FILE`: the settings `serve --config FILE` would
/// run with, each with where it came from, or what is wrong and where.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a server configuration file.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate FILE (with the SWITCHYARD_* environment and any serve flags after it) and print the effective settings with their sources.",
            discussion: "Exit status 0 when valid, 2 when not. Precedence: flags, then environment variables, then the file, then defaults.")

        @Argument(help: "The configuration file (TOML).")
        var file: String

        @Argument(parsing: .captureForPassthrough, help: "serve flags to layer on top, as `serve` would.")
        var flags: [String] = []

        func run() throws {
            let cli = ["--config", file] + flags
            let serve: Serve, layers: SettingsLayers
            do {
                (serve, layers) = try Serve.resolve(cli: cli)
            } catch {
                log("error: \(error.description)", .error)
                throw ExitCode(2)
            }
            for warning in layers.warnings { log("warning: \(warning)", .warning) }
            let width = ServeSetting.all.map(\.key.count).max() ?? 0
            print("# effective settings for `switchyard serve --config \(file)`; (live): a SIGHUP applies it without a restart")
            for setting in ServeSetting.all {
                let key = setting.key.padding(toLength: width, withPad: " ", startingAt: 0)
                let value = setting.render(serve)
                let shown = value.isEmpty ? "(none)" : value
                print("\(key) = \(shown.padding(toLength: max(12, shown.count), withPad: " ", startingAt: 0))  # \(layers.source(of: setting.key))\(setting.live ? " (live)" : "")")
            }
        }
    }
}
