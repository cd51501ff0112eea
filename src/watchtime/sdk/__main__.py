"""`python -m watchtime.sdk`: the SDK's version and integrity hash, for the README's script tag."""

from watchtime.sdk import sdk_file

sdk = sdk_file()
print(f"version {sdk.version}\nintegrity {sdk.integrity}")
