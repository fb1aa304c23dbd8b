using System.CommandLine;

namespace Moderation.Streams.Cli.Commands;

internal static class ClassifyCommand
{
    public static Command Create()
    {
        var command = new Command("classify", "(not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation classify: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
