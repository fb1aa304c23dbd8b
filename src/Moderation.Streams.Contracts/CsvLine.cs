using System.Text;

namespace Moderation.Streams.Contracts;

/// <summary>The fields of one CSV line (RFC 4180 quoting; a quoted field may not span lines here), as the bank files
/// (hash banks, term and domain banks) are read.</summary>
public static class CsvLine
{
    /// <summary>Replaces the contents of <paramref name="fields"/> with the fields of <paramref name="line"/>.
    /// False on an unterminated quote.</summary>
    public static bool TrySplit(string line, List<string> fields)
    {
        fields.Clear();
        var field = new StringBuilder();
        int i = 0;
        while (true)
        {
            field.Clear();
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) return false;
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
                // Anything between the closing quote and the comma is kept, as lenient readers do.
                while (i < line.Length && line[i] != ',') field.Append(line[i++]);
            }
            else
            {
                while (i < line.Length && line[i] != ',') field.Append(line[i++]);
            }
            fields.Add(field.ToString());
            if (i >= line.Length) return true;
            i++; // the comma
        }
    }
}
