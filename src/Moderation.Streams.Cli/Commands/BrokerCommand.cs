using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class BrokerCommand
{
    public static Command Create()
    {
        var command = new Command("broker", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation broker: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
