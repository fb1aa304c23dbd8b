using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var command = new Command("worker", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation worker: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
