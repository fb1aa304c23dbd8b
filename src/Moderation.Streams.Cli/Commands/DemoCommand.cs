using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation demo: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
