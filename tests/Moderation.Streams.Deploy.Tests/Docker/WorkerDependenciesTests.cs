using System.Xml.Linq;

namespace Moderation.Streams.Deploy.Tests.Docker;

/// <summary>
/// The development servers (librdkafka's mock cluster, Garnet) live in <c>Moderation.Streams.Embedded</c>, which only
/// the CLI and tests reference: the Worker and the libraries under it carry neither the servers nor Garnet's 23
/// packages (Azure SDKs, Lua, DiskANN). The published image runs the CLI, so it still does; see deploy/README.md.
/// </summary>
public sealed class WorkerDependenciesTests
{
    private const string Embedded = "src/Moderation.Streams.Embedded/Moderation.Streams.Embedded.csproj";

    [Fact]
    public void Only_the_cli_and_tests_reference_the_embedded_servers_and_only_they_reference_garnet()
    {
        var referencing = SourceProjects().Where(p => References(p).Contains(Embedded)).ToArray();
        Assert.Equal(["src/Moderation.Streams.Cli/Moderation.Streams.Cli.csproj"], referencing);

        var withGarnet = SourceProjects().Where(p => Packages(p).Contains("Microsoft.Garnet")).ToArray();
        Assert.Equal([Embedded], withGarnet);
    }

    [Fact]
    public void The_worker_and_every_project_under_it_reference_neither_the_embedded_servers_nor_garnet()
    {
        var closure = Closure("src/Moderation.Streams.Worker/Moderation.Streams.Worker.csproj");

        Assert.Contains("src/Moderation.Streams.Redis/Moderation.Streams.Redis.csproj", closure);
        Assert.DoesNotContain(Embedded, closure);
        Assert.All(closure, p => Assert.DoesNotContain("Microsoft.Garnet", Packages(p)));
    }

    [Fact]
    public void A_build_on_the_worker_alone_carries_no_garnet_assembly()
    {
        // This test project references the Worker and the review console (which carries no development server either):
        // its output is their closure.
        var carried = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll").Select(Path.GetFileName)
            .Where(f => f!.StartsWith("Garnet.", StringComparison.Ordinal) || f.StartsWith("Tsavorite.", StringComparison.Ordinal)
                || f == "Moderation.Streams.Embedded.dll")
            .ToArray();

        Assert.Contains("Moderation.Streams.Worker.dll", Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll").Select(Path.GetFileName));
        Assert.Empty(carried);
    }

    private static IEnumerable<string> SourceProjects() =>
        Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "src"), "*.csproj", SearchOption.AllDirectories).Select(Normalize).Order(StringComparer.Ordinal);

    private static SortedSet<string> Closure(string project)
    {
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.Count > 0)
        {
            var next = pending.Pop();
            if (!seen.Add(next)) continue;
            foreach (var reference in References(next)) pending.Push(reference);
        }
        return seen;
    }

    private static IEnumerable<string> References(string project)
    {
        var directory = Path.GetDirectoryName(Path.Combine(RepoPaths.Root, project))!;
        return Load(project).Descendants("ProjectReference")
            .Select(r => Normalize(Path.GetFullPath(Path.Combine(directory, r.Attribute("Include")!.Value))));
    }

    private static IEnumerable<string> Packages(string project) =>
        Load(project).Descendants("PackageReference").Select(r => r.Attribute("Include")!.Value);

    private static XDocument Load(string project) => XDocument.Load(Path.Combine(RepoPaths.Root, project));

    private static string Normalize(string path) => RepoPaths.Relative(path).Replace('\\', '/');
}
