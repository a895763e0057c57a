using System.Reflection;
using System.Text.RegularExpressions;
using OrdersEs.Domain.EventSourcing;
using OrdersEs.Infrastructure.Persistence;
using Xunit;

namespace OrdersEs.Api.Tests.Architecture;

/// <summary>
/// The kernel names no feature: no code outside the feature folders mentions a feature's namespace or any of its
/// types (comments aside). Feature folders are <c>src/Domain/&lt;Feature&gt;/</c> (all but <c>EventSourcing</c>), <c>src/Api/&lt;Feature&gt;/</c>
/// and <c>src/Infrastructure/ReadModels/</c>; so adding or removing a feature never touches the kernel.
/// </summary>
public class FeatureNeutralKernelTests
{
    private static readonly Assembly[] Assemblies = [typeof(AggregateRoot).Assembly, typeof(EventStoreDatabase).Assembly, typeof(ServiceAssemblies).Assembly];

    [Fact]
    public void No_kernel_file_names_a_feature_or_one_of_its_types()
    {
        var src = Path.Combine(RepositoryRoot(), "src");
        var features = Directory.GetDirectories(Path.Combine(src, "Domain")).Select(Path.GetFileName)
            .Where(name => name is not ("EventSourcing" or "bin" or "obj")).Cast<string>().ToArray();
        if (features.Length == 0) return; // a service with no feature yet (--sample none): nothing can name one

        // The service's own root namespace (Acme.Orders in a service named so) is not a feature's name.
        var root = typeof(AggregateRoot).Namespace![..^".Domain.EventSourcing".Length];
        // Namespaces are read below the service's root (Acme.Orders.Domain.Invoices: Domain.Invoices), so a feature that
        // shares a word with the service's name (Orders in Acme.Orders) does not take in the whole service.
        var featureTypes = Assemblies.SelectMany(a => a.GetTypes())
            .Where(t => t.Namespace is { } ns && ns.StartsWith(root + ".", StringComparison.Ordinal)
                && features.Any(f => ns[root.Length..].EndsWith("." + f, StringComparison.Ordinal) || ns[root.Length..].Contains("." + f + ".", StringComparison.Ordinal)))
            .Select(t => t.Name.Split('`')[0]).Where(name => !name.Contains('<')).Distinct().ToArray();
        Assert.NotEmpty(featureTypes);
        var forbidden = new Regex(@"\b(" + string.Join("|", features.Concat(featureTypes).Select(Regex.Escape)) + @")\b");

        var violations = KernelFiles(src, features)
            .SelectMany(file => File.ReadAllLines(file).Select((line, i) => (file, line: i + 1, text: Code(line).Replace(root, ""))))
            .Where(l => forbidden.IsMatch(l.text))
            .Select(l => $"{Path.GetRelativePath(src, l.file)}:{l.line}: {forbidden.Match(l.text).Value} in '{l.text.Trim()}'")
            .ToArray();
        Assert.True(violations.Length == 0, "The kernel names a feature:\n" + string.Join("\n", violations));
    }

    // The code of a line, without its comment: doc examples (a type name a feature may happen to have) do not count.
    private static string Code(string line)
    {
        var comment = line.IndexOf("//", StringComparison.Ordinal);
        return comment < 0 ? line : line[..comment];
    }

    private static IEnumerable<string> KernelFiles(string src, string[] features)
    {
        bool IsFeature(string relative)
        {
            var parts = relative.Split(Path.DirectorySeparatorChar);
            return parts.Contains("bin") || parts.Contains("obj")
                || (parts.Length > 2 && parts[0] is "Domain" or "Api" && features.Contains(parts[1]))
                || (parts.Length > 2 && parts[0] == "Infrastructure" && parts[1] == "ReadModels");
        }
        return Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Where(file => !IsFeature(Path.GetRelativePath(src, file)));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "src", "Domain", "EventSourcing"))) return dir.FullName;
        throw new InvalidOperationException($"No src/Domain/EventSourcing above {AppContext.BaseDirectory}.");
    }
}
