namespace Moderation.Streams.Contracts;

/// <summary>
/// A failure that belongs to one upload: it carries the contract's error code and ends in the DLQ
/// (or in <c>review</c>), never in a crash of the worker. Its message often quotes the upload (a field name, a
/// media type, a parser's view of the bytes), and goes to logs and DLQ headers: it is made clean here, once, with
/// <see cref="SafeText.Escape"/> (control and format characters, line separators and lone surrogates as
/// <c>\uXXXX</c>, at most <see cref="MaxMessageChars"/> characters), so no upload can forge a log line.
/// </summary>
public sealed class ModerationException(string code, string message, Exception? inner = null)
    : Exception(SafeText.Escape(message, MaxMessageChars), inner)
{
    public const int MaxMessageChars = 1024;

    public string Code { get; } = code;

    /// <summary>The cause may go away by itself (a CDN answering 503, a timeout): worth retrying before the DLQ.</summary>
    public bool Transient { get; init; }
}
