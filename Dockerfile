# The service's image: built with the SDK, run on the ASP.NET runtime as the image's non-root user.
#   docker build -t orders-service .     (docker-compose.yml builds it for you)

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source
# Restore first, from the project files alone, so the package layer is reused while only code changes.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/Domain/Domain.csproj src/Domain/
COPY src/Infrastructure/Infrastructure.csproj src/Infrastructure/
COPY src/Api/Api.csproj src/Api/
RUN dotnet restore src/Api/Api.csproj
COPY src/ src/
RUN dotnet publish src/Api/Api.csproj --configuration Release --no-restore --output /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
#if (database == "sqlite")
# The SQLite database lives in /data (a volume in docker-compose.yml), writable by the non-root user.
RUN mkdir /data && chown "$APP_UID" /data
VOLUME /data
#endif
WORKDIR /app
COPY --from=build /app .
# APP_UID is the non-root 'app' user that the .NET images define.
USER $APP_UID
ENV ASPNETCORE_HTTP_PORTS=8080
EXPOSE 8080
ENTRYPOINT ["dotnet", "OrdersEs.Api.dll"]
