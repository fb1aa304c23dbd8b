using System.CommandLine;

namespace Moderation.Streams.Cli.Commands.Bench;

internal static class InferenceBench
{
    public static Command Create()
    {
        var command = new Command("inference", "Dynamic batcher vs raw ONNX Runtime at its best static batch (not built yet)");
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("moderation bench inference: not built yet");
            return ExitCodes.Failure;
        });
        return command;
    }
}
