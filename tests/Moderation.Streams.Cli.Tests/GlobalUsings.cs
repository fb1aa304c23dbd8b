global using CliProcess = Moderation.Streams.Cli.ModerationProcess;
