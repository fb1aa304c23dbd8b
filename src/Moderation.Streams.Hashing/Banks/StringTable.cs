namespace Moderation.Streams.Hashing.Banks;

/// <summary>Distinct strings in the order first seen, each by its index: how bank columns hold labels and sources
/// (a column of ints instead of a string per entry).</summary>
internal sealed class StringTable
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public List<string> Strings { get; } = [];

    /// <summary>The string's index (added when new); -1 for null.</summary>
    public int Intern(string? value)
    {
        if (value is null) return -1;
        if (!_index.TryGetValue(value, out int i))
        {
            _index[value] = i = Strings.Count;
            Strings.Add(value);
        }
        return i;
    }

    public void Clear()
    {
        _index.Clear();
        Strings.Clear();
    }
}
