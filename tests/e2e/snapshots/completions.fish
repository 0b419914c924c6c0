# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cubeship_global_optspecs
    string join \n json q/quiet v/verbose no-progress dry-run jobs= h/help V/version
end

function __fish_cubeship_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cubeship_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cubeship_using_subcommand
    set -l cmd (__fish_cubeship_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cubeship -n "__fish_cubeship_needs_command" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_needs_command" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_needs_command" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_needs_command" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_needs_command" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_needs_command" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_needs_command" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_needs_command" -s V -l version -d 'Print version'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "s3" -d 'Amazon S3 and S3-compatible stores, one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "gcs" -d 'Google Cloud Storage, one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "github" -d 'GitHub release assets, one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "http" -d 'Any server that accepts HTTP PUT (WebDAV, Artifactory, Nexus, presigned URLs), one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "synapse" -d 'Synapse projects and folders (MedPerf downloads with the user\'s Synapse login), one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "dir" -d 'A local folder (no account needed; file:// URLs), one step by hand'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "config" -d 'Show the configuration: cubeship.toml, default destinations, provider options'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "package" -d 'Package an MLCube folder into its deploy folder (what MedPerf needs hosted)'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "publish" -d 'Publish an already packaged deploy folder'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "package-and-publish" -d 'Package an MLCube and publish it: the whole job in one command'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "verify" -d 'Download URLs as MedPerf will and check their hashes'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "man" -d 'Print the man page (roff), or write one page per subcommand into a folder'
complete -c cubeship -n "__fish_cubeship_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to s3://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l bucket -d 'The bucket (its name only)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l prefix -d 'Key prefix under the bucket [default: ]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l region -d 'AWS region of the bucket [default: from the profile] [env: AWS_REGION]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l endpoint-url -d 'S3-compatible endpoint (MinIO, Ceph, R2, B2…); URLs are path-style [env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l profile -d 'Named profile from ~/.aws/config and ~/.aws/credentials [env: AWS_PROFILE]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l acl -d 'Object ACL sent with uploads [default: public-read]' -r -f -a "public-read\t'send x-amz-acl: public-read (without, if the bucket has ACLs disabled)'
none\t'send no ACL; the bucket policy must make objects public'"
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l s3-checksum -d 'Request checksums [default: when-required for custom endpoints, when-supported on AWS] [env: AWS_REQUEST_CHECKSUM_CALCULATION]' -r -f -a "when-supported\t'CRC32 checksums on every upload (AWS\'s default since SDK 1.69)'
when-required\t'checksums only where S3 requires them (what most S3-compatible stores handle)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l s3-multipart-threshold -d 'Files of at least this many MiB (5 or more) go as parallel multipart uploads [default: 64]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l public-url-base -d 'Public URLs start with this base instead of the store\'s own (a CDN, a custom domain)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to s3://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand s3; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to gs://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l bucket -d 'The bucket (its name only)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l prefix -d 'Key prefix under the bucket [default: ]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l endpoint -d 'The Cloud Storage endpoint, e.g. an emulator (http://127.0.0.1:4443); a plain-http endpoint gets no credentials [default: Google]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l predefined-acl -d 'How uploaded objects are made public [default: publicRead]' -r -f -a "publicRead\t'allUsers may read each object (buckets with fine-grained access; uniform buckets rely on IAM)'
none\t'no ACL: the bucket\'s IAM policy decides (e.g. allUsers as roles/storage.objectViewer)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l public-url-base -d 'Public URLs start with this base instead of the store\'s own (a CDN, a custom domain)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to gs://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand gcs; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to github://OWNER/REPO/TAG and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l repo -d 'The repository' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l tag -d 'The release\'s tag' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l api-url -d 'REST API base, e.g. https://HOST/api/v3 for GitHub Enterprise Server [env: GITHUB_API_URL] [default: https://api.github.com]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l create-release -d 'Create the release when no release has the tag (default: refuse)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l draft -d 'With --create-release: create it as a draft (its assets are not public until it is published)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to github://OWNER/REPO/TAG and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand github; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to https://HOST/PATH/ and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l url -d 'The folder URL files are PUT under (each as <URL>/<file name>), or one presigned object URL (with its ?query) for a single FILE; env:VAR reads it from $VAR' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l get-url -d 'The base URL anonymous clients GET from, when reads are served elsewhere than PUTs [default: the PUT URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l header -d 'An extra request header, repeatable: \'Name: value\', or \'Name: env:VAR\' to send the value of $VAR (required for credentials)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l allow-http -d 'Allow cleartext http:// to a host other than loopback'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to https://HOST/PATH/ and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand http; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to synapse:synNNN and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l parent -d 'The Synapse project or folder (synNNN) the files go into.' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l synapse-endpoint -d 'The Synapse server (repo, file and auth APIs under /repo/v1, /file/v1, /auth/v1). [env: CUBESHIP_SYNAPSE_ENDPOINT] [default: https://repo-prod.prod.sagebase.org]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to synapse:synNNN and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand synapse; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -f -a "upload" -d 'Upload files as they are to dir:PATH and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and not __fish_seen_subcommand_from upload help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l dir -d 'The folder files are copied into (created if missing).' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l overwrite -d 'Replace an existing object that has other content'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l no-verify -d 'Skip the download check'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from upload" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from help" -f -a "upload" -d 'Upload files as they are to dir:PATH and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand dir; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print every provider option as it resolves now, secrets redacted'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print every provider option as it resolves now, secrets redacted'
complete -c cubeship -n "__fish_cubeship_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l deploy-dir -d 'Where the deploy folder goes [default: <MLCUBE>/deploy]' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l output -d 'Also write one tarball of the deploy folder (for challenges that take a single file)' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l type -d 'Check the tasks MedPerf requires for this cube type (without it: inferred, warnings only)' -r -f -a "model\t''
metrics\t''
data-preparator\t''"
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l name -d 'The cube\'s name in object keys and in `medperf … --name` [default: the folder name]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l compression-level -d 'gzip level of the archives, 0 (store) to 9' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l image -d 'Container cubes of a file type: the image file to host [default: the one file in workspace/.image/]' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l decryption-key -d 'The key file of an image you encrypted yourself, for the medperf command (it stays local)' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l encrypt -d 'Encrypt the image (DockerArchive/SingularityFile become Encrypted…) with a fresh key written next to the deploy folder; MedPerf decrypts it with gpg'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand package" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l key-template -d 'Object key under the destination. Variables: {name} {sha256} {sha256_16} {sha1} {file} {role}. [default: {name}/{sha256_16}/{file}; {name}-{file} where names are flat]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l hash -d 'Hash printed in the medperf command: sha256 (MedPerf since late 2023) or sha1 (older)' -r -f -a "sha256\t''
sha1\t''"
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l to -d 'Destination, repeatable: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, github://OWNER/REPO/TAG, https://HOST/PATH/, synapse:synNNN, dir:PATH' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l region -d 'AWS region of the bucket [default: from the profile] [env: AWS_REGION]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l endpoint-url -d 'S3-compatible endpoint (MinIO, Ceph, R2, B2…); URLs are path-style [env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l profile -d 'Named profile from ~/.aws/config and ~/.aws/credentials [env: AWS_PROFILE]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l acl -d 'Object ACL sent with uploads [default: public-read]' -r -f -a "public-read\t'send x-amz-acl: public-read (without, if the bucket has ACLs disabled)'
none\t'send no ACL; the bucket policy must make objects public'"
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l s3-checksum -d 'Request checksums [default: when-required for custom endpoints, when-supported on AWS] [env: AWS_REQUEST_CHECKSUM_CALCULATION]' -r -f -a "when-supported\t'CRC32 checksums on every upload (AWS\'s default since SDK 1.69)'
when-required\t'checksums only where S3 requires them (what most S3-compatible stores handle)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l s3-multipart-threshold -d 'Files of at least this many MiB (5 or more) go as parallel multipart uploads [default: 64]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l public-url-base -d 'Public URLs start with this base instead of the store\'s own (a CDN, a custom domain) (s3, gcs destinations)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l endpoint -d 'The Cloud Storage endpoint, e.g. an emulator (http://127.0.0.1:4443); a plain-http endpoint gets no credentials [default: Google]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l predefined-acl -d 'How uploaded objects are made public [default: publicRead]' -r -f -a "publicRead\t'allUsers may read each object (buckets with fine-grained access; uniform buckets rely on IAM)'
none\t'no ACL: the bucket\'s IAM policy decides (e.g. allUsers as roles/storage.objectViewer)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l api-url -d 'REST API base, e.g. https://HOST/api/v3 for GitHub Enterprise Server [env: GITHUB_API_URL] [default: https://api.github.com]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l get-url -d 'The base URL anonymous clients GET from, when reads are served elsewhere than PUTs [default: the PUT URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l header -d 'An extra request header, repeatable: \'Name: value\', or \'Name: env:VAR\' to send the value of $VAR (required for credentials)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l synapse-endpoint -d 'The Synapse server (repo, file and auth APIs under /repo/v1, /file/v1, /auth/v1). [env: CUBESHIP_SYNAPSE_ENDPOINT] [default: https://repo-prod.prod.sagebase.org]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l overwrite -d 'Replace an existing object that has other content (default: refuse, it may be registered)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l no-verify -d 'Skip the download check (the report then says "not verified")'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l no-image-digest -d 'DockerImage containers: do not look up the image\'s registry digest for --image-hash'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l operational -d 'Container cubes: the medperf command registers the container as OPERATIONAL'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l create-release -d 'Create the release when no release has the tag (default: refuse)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l draft -d 'With --create-release: create it as a draft (its assets are not public until it is published)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l allow-http -d 'Allow cleartext http:// to a host other than loopback'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l deploy-dir -d 'Where the deploy folder goes [default: <MLCUBE>/deploy]' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l output -d 'Also write one tarball of the deploy folder (for challenges that take a single file)' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l type -d 'Check the tasks MedPerf requires for this cube type (without it: inferred, warnings only)' -r -f -a "model\t''
metrics\t''
data-preparator\t''"
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l name -d 'The cube\'s name in object keys and in `medperf … --name` [default: the folder name]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l compression-level -d 'gzip level of the archives, 0 (store) to 9' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l image -d 'Container cubes of a file type: the image file to host [default: the one file in workspace/.image/]' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l decryption-key -d 'The key file of an image you encrypted yourself, for the medperf command (it stays local)' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l key-template -d 'Object key under the destination. Variables: {name} {sha256} {sha256_16} {sha1} {file} {role}. [default: {name}/{sha256_16}/{file}; {name}-{file} where names are flat]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l hash -d 'Hash printed in the medperf command: sha256 (MedPerf since late 2023) or sha1 (older)' -r -f -a "sha256\t''
sha1\t''"
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l to -d 'Destination, repeatable: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, github://OWNER/REPO/TAG, https://HOST/PATH/, synapse:synNNN, dir:PATH' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l region -d 'AWS region of the bucket [default: from the profile] [env: AWS_REGION]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l endpoint-url -d 'S3-compatible endpoint (MinIO, Ceph, R2, B2…); URLs are path-style [env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l profile -d 'Named profile from ~/.aws/config and ~/.aws/credentials [env: AWS_PROFILE]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l acl -d 'Object ACL sent with uploads [default: public-read]' -r -f -a "public-read\t'send x-amz-acl: public-read (without, if the bucket has ACLs disabled)'
none\t'send no ACL; the bucket policy must make objects public'"
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l s3-checksum -d 'Request checksums [default: when-required for custom endpoints, when-supported on AWS] [env: AWS_REQUEST_CHECKSUM_CALCULATION]' -r -f -a "when-supported\t'CRC32 checksums on every upload (AWS\'s default since SDK 1.69)'
when-required\t'checksums only where S3 requires them (what most S3-compatible stores handle)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l s3-multipart-threshold -d 'Files of at least this many MiB (5 or more) go as parallel multipart uploads [default: 64]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l public-url-base -d 'Public URLs start with this base instead of the store\'s own (a CDN, a custom domain) (s3, gcs destinations)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l endpoint -d 'The Cloud Storage endpoint, e.g. an emulator (http://127.0.0.1:4443); a plain-http endpoint gets no credentials [default: Google]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l predefined-acl -d 'How uploaded objects are made public [default: publicRead]' -r -f -a "publicRead\t'allUsers may read each object (buckets with fine-grained access; uniform buckets rely on IAM)'
none\t'no ACL: the bucket\'s IAM policy decides (e.g. allUsers as roles/storage.objectViewer)'"
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l api-url -d 'REST API base, e.g. https://HOST/api/v3 for GitHub Enterprise Server [env: GITHUB_API_URL] [default: https://api.github.com]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l get-url -d 'The base URL anonymous clients GET from, when reads are served elsewhere than PUTs [default: the PUT URL]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l header -d 'An extra request header, repeatable: \'Name: value\', or \'Name: env:VAR\' to send the value of $VAR (required for credentials)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l synapse-endpoint -d 'The Synapse server (repo, file and auth APIs under /repo/v1, /file/v1, /auth/v1). [env: CUBESHIP_SYNAPSE_ENDPOINT] [default: https://repo-prod.prod.sagebase.org]' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l encrypt -d 'Encrypt the image (DockerArchive/SingularityFile become Encrypted…) with a fresh key written next to the deploy folder; MedPerf decrypts it with gpg'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l overwrite -d 'Replace an existing object that has other content (default: refuse, it may be registered)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l no-verify -d 'Skip the download check (the report then says "not verified")'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l no-image-digest -d 'DockerImage containers: do not look up the image\'s registry digest for --image-hash'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l operational -d 'Container cubes: the medperf command registers the container as OPERATIONAL'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l create-release -d 'Create the release when no release has the tag (default: refuse)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l draft -d 'With --create-release: create it as a draft (its assets are not public until it is published)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l allow-http -d 'Allow cleartext http:// to a host other than loopback'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand package-and-publish" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l sha256 -d 'Expected sha256 (hex) of the URL\'s content (without a hash: only checks that MedPerf can download it)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l sha1 -d 'Expected sha1 (hex) of the URL\'s content (MedPerf before late 2023)' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l try-fixed -d 'When a link fails and the link doctor derives a fixed URL, check that URL too'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand verify" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand completions" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -l dir -d 'Write cubeship.1 and cubeship-SUBCOMMAND.1 pages into DIR' -r -F
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -l jobs -d 'How many uploads run at once' -r
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -l json -d 'Print one machine-readable JSON document on stdout and nothing else there'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -s q -l quiet -d 'Print less (errors only on stderr)'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -s v -l verbose -d 'Print more on stderr (-v: steps, -vv: debug)'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -l no-progress -d 'Never draw progress bars (they are drawn on stderr only when it is a terminal)'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -l dry-run -d 'Plan and print what would be uploaded where; upload nothing, change nothing'
complete -c cubeship -n "__fish_cubeship_using_subcommand man" -s h -l help -d 'Print help'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "s3" -d 'Amazon S3 and S3-compatible stores, one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "gcs" -d 'Google Cloud Storage, one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "github" -d 'GitHub release assets, one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "http" -d 'Any server that accepts HTTP PUT (WebDAV, Artifactory, Nexus, presigned URLs), one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "synapse" -d 'Synapse projects and folders (MedPerf downloads with the user\'s Synapse login), one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "dir" -d 'A local folder (no account needed; file:// URLs), one step by hand'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "config" -d 'Show the configuration: cubeship.toml, default destinations, provider options'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "package" -d 'Package an MLCube folder into its deploy folder (what MedPerf needs hosted)'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "publish" -d 'Publish an already packaged deploy folder'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "package-and-publish" -d 'Package an MLCube and publish it: the whole job in one command'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "verify" -d 'Download URLs as MedPerf will and check their hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "man" -d 'Print the man page (roff), or write one page per subcommand into a folder'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and not __fish_seen_subcommand_from s3 gcs github http synapse dir config package publish package-and-publish verify completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from s3" -f -a "upload" -d 'Upload files as they are to s3://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from gcs" -f -a "upload" -d 'Upload files as they are to gs://BUCKET/PREFIX and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from github" -f -a "upload" -d 'Upload files as they are to github://OWNER/REPO/TAG and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from http" -f -a "upload" -d 'Upload files as they are to https://HOST/PATH/ and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from synapse" -f -a "upload" -d 'Upload files as they are to synapse:synNNN and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from dir" -f -a "upload" -d 'Upload files as they are to dir:PATH and print their URLs and hashes'
complete -c cubeship -n "__fish_cubeship_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "show" -d 'Print every provider option as it resolves now, secrets redacted'
