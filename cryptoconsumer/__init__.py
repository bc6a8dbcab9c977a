"""Stand up and run a Kinesis -> Lambda -> DynamoDB crypto-price consumer with boto3."""

__version__ = "0.1.0"
