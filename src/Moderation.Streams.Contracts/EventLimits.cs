namespace Moderation.Streams.Contracts;

/// <summary>Limits applied while parsing an upload event.</summary>
public sealed record EventLimits
{
    /// <summary>Largest event accepted (bytes of UTF-8 JSON), inline media included.</summary>
    public int MaxEventBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted.</summary>
    public int MaxDepth { get; init; } = 16;

    /// <summary>Longest <c>caption</c> accepted, in characters (Unicode scalar values); longer is <c>invalid-event</c>.</summary>
    public int MaxCaptionChars { get; init; } = 4_000;

    /// <summary>Longest <c>text</c> of a <c>text</c> item, in characters (Unicode scalar values).</summary>
    public int MaxTextChars { get; init; } = 10_000;

    public static EventLimits Default { get; } = new();
}
