namespace Moderation.Streams.Contracts;

public static class MediaTypes
{
    public const string Image = "image";
    public const string Video = "video";

    /// <summary>An item with no media (a comment, a bio, a post), screened by the text signals alone.</summary>
    public const string Text = "text";
}
