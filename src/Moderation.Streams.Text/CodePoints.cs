using System.Text;

namespace Moderation.Streams.Text;

internal static class CodePoints
{
    /// <summary>Appends one code point without allocating a string for it.</summary>
    public static void AppendCodePoint(StringBuilder text, int codePoint)
    {
        if (codePoint < 0x10000) text.Append((char)codePoint);
        else text.Append(char.ConvertFromUtf32(codePoint));
    }
}
