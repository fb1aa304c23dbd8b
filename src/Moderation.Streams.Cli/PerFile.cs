using Moderation.Streams.Contracts;

namespace Moderation.Streams.Cli;

/// <summary>
/// The loop of the verbs that take FILE…: each file is handled on its own; a file that fails prints
/// <c>moderation VERB: PATH: CODE: MESSAGE</c> on stderr and the others go on; exit 1 when any failed.
/// </summary>
internal static class PerFile
{
    public static int Run(string verb, IEnumerable<string> paths, Action<string> handle)
    {
        bool failed = false;
        foreach (var path in paths)
        {
            try
            {
                handle(path);
            }
            catch (ModerationException e)
            {
                Console.Error.WriteLine($"moderation {verb}: {path}: {e.Code}: {e.Message}");
                failed = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"moderation {verb}: {path}: {ErrorCodes.MediaUnavailable}: {e.Message}");
                failed = true;
            }
        }
        return failed ? ExitCodes.Failure : ExitCodes.Ok;
    }
}
