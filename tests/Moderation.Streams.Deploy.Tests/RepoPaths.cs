namespace Moderation.Streams.Deploy.Tests;

/// <summary>Paths of the repository the tests validate (found from the test binary upwards).</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();
    public static string Chart => Path.Combine(Root, "helm", "moderation-streams");
    public static string Deploy => Path.Combine(Root, "deploy");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException("Moderation.Streams.sln not found above " + AppContext.BaseDirectory);
    }

    public static string Relative(string path) => Path.GetRelativePath(Root, path);
}
