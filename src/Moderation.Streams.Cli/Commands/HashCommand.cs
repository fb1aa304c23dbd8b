using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class HashCommand
{
    public static Command Create()
    {
        var command = new Command("hash", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation hash: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
