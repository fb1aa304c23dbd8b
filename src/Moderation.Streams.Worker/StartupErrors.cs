using Microsoft.Extensions.Options;

namespace Moderation.Streams.Worker;

/// <summary>How a worker that cannot start says so: one line (no stack trace, no .NET parameter names) and the exit code
/// of its cause — 2 when the configuration is at fault (a setting, the policy file, a model name), 1 otherwise.</summary>
public static class StartupErrors
{
    /// <summary>The configuration is at fault: fixing a setting, flag or file is the remedy.</summary>
    public static bool IsConfiguration(Exception e) =>
        e is OptionsValidationException or InvalidDataException or ArgumentException or FileNotFoundException or DirectoryNotFoundException;

    /// <summary>The message on one line, without the <c>(Parameter 'name')</c> that <see cref="ArgumentException"/> appends.</summary>
    public static string OneLine(Exception e)
    {
        string message = e is ArgumentException { ParamName: { } name } a ? a.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return message.ReplaceLineEndings(" ");
    }
}
