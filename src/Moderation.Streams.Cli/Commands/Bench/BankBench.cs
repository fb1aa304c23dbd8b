using System.CommandLine;

namespace Moderation.Streams.Cli.Commands.Bench;

internal static class BankBench
{
    public static Command Create()
    {
        var command = new Command("bank", "Bank near-duplicate search: index vs brute force on 1,000,000 hashes (not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation bench bank: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
