using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class ProduceCommand
{
    public static Command Create()
    {
        var command = new Command("produce", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation produce: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
