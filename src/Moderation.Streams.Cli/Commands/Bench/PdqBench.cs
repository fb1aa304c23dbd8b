using System.CommandLine;

namespace Moderation.Streams.Cli.Commands.Bench;

internal static class PdqBench
{
    public static Command Create()
    {
        var command = new Command("pdq", "PDQ hashing images/s (decode included) against the reference-equivalent full decode path (not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation bench pdq: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
