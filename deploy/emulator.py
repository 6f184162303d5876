#!/usr/bin/env python3
"""Deploys template.yaml into moto's CloudFormation and reads the stack back, for the tests.

The SAM template is transformed with samtranslator (what `sam deploy` has CloudFormation do), the functions' code
and the layer replaced by small placeholder zips in the emulator's S3 (the tests start the real binaries
themselves), and the stack created with `CreateStack`. moto's CloudFormation skips some resource types and
properties; those are applied here through the services' own APIs, from the same transformed template, and named
in the output (`applied_through_api`). Then every resource is read back through its service's API and printed as
one JSON document.

Usage: emulator.py --endpoint URL [--stack-name NAME] [--param KEY=VALUE ...]
Runs with the deployment tools' Python (scripts/setup.sh: boto3, samtranslator).
"""

import argparse
import ast
import io
import json
import os
import sys
import time
import zipfile

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"
CODE_BUCKET = "redscribe-deploy-artifacts"
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")


class NoManagedPolicies:
    """The template names no managed policy (each role is written out), so SAM needs no map of them."""

    def load(self):
        return {}


def placeholder_zip(name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", f"placeholder for {name}: the tests run the real binary as a process\n")
    return buf.getvalue()


def transformed(template_path, parameters, s3):
    """The template as CloudFormation sees it after the SAM transform, with the code in the emulator's S3."""
    template = yaml_parse(open(template_path).read())
    s3.create_bucket(Bucket=CODE_BUCKET)
    for name, resource in template["Resources"].items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            resource["Type"]
        )
        if key:
            s3.put_object(Bucket=CODE_BUCKET, Key=f"{name}.zip", Body=placeholder_zip(name))
            resource["Properties"][key] = {"Bucket": CODE_BUCKET, "Key": f"{name}.zip"}
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(template, parameters, NoManagedPolicies())


class Resolver:
    """Intrinsic functions of the resources moto skips, resolved against the created stack."""

    def __init__(self, session, stack_name, resources, template, parameters):
        self.stack_name = stack_name
        self.physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        self.types = {name: r["Type"] for name, r in template["Resources"].items()}
        self.parameters = {k: str(p.get("Default", "")) for k, p in template.get("Parameters", {}).items()}
        self.parameters.update(parameters)
        self.conditions = template.get("Conditions", {})
        self.account = session.client("sts").get_caller_identity()["Account"]
        self.iam = session.client("iam")
        # moto gives a layer version no physical id: its ARN is found by the layer's name, which moto makes from
        # the logical id.
        for layer in session.client("lambda").list_layers()["Layers"]:
            for name, kind in self.types.items():
                if kind == "AWS::Lambda::LayerVersion" and not self.physical.get(name) and name in layer["LayerName"]:
                    self.physical[name] = layer["LatestMatchingVersion"]["LayerVersionArn"]

    def condition(self, name):
        """Whether a condition of the template holds for the stack's parameters."""
        return self.holds(self.conditions[name])

    def holds(self, value):
        (key, arg), = value.items()
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self.holds(arg[0])
        if key == "Fn::And":
            return all(self.holds(a) for a in arg)
        if key == "Fn::Or":
            return any(self.holds(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise ValueError(f"no {key} in a condition")

    def pseudo(self, name):
        return {
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def ref(self, name):
        value = self.pseudo(name)
        if value is not None:
            return value
        return self.parameters[name] if name in self.parameters else self.physical[name]

    def get_att(self, name, attribute):
        kind, physical = self.types[name], self.physical[name]
        if kind == "AWS::SQS::Queue":
            queue = physical.rsplit("/", 1)[-1]
            return {"Arn": f"arn:aws:sqs:{REGION}:{self.account}:{queue}", "QueueName": queue}[attribute]
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return self.iam.get_role(RoleName=physical)["Role"]["Arn"]
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{REGION}:{self.account}:log-group:{physical}:*"
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:aws:lambda:{REGION}:{self.account}:function:{physical}"
        raise ValueError(f"no Fn::GetAtt {name}.{attribute} in the resolver")

    def sub(self, text, variables):
        out, i = "", 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out += text[i:]
                break
            end = text.index("}", start)
            out += text[i:start]
            name = text[start + 2 : end]
            if name.startswith("!"):
                out += "${" + name[1:] + "}"
            elif name in variables:
                out += self.resolve(variables[name])
            elif "." in name and self.pseudo(name) is None:
                out += self.get_att(*name.split(".", 1))
            else:
                out += self.ref(name)
            i = end + 1
        return out

    NO_VALUE = object()  # `Ref: AWS::NoValue`: the property or item is left out

    def resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not Resolver.NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return Resolver.NO_VALUE
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1)))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self.sub(text, variables)
            if key == "Fn::Join":
                return arg[0].join(self.resolve(v) for v in arg[1])
            if key == "Fn::If":
                condition, then, otherwise = arg
                return self.resolve(then if self.condition(condition) else otherwise)
            if key.startswith("Fn::"):
                raise ValueError(f"no {key} in the resolver")
        resolved = ((k, self.resolve(v)) for k, v in value.items())
        return {k: v for k, v in resolved if v is not Resolver.NO_VALUE}


def create_stack(session, stack_name, template, parameters):
    cfn = session.client("cloudformation")
    body = json.dumps(template)
    # Bodies over 51,200 bytes must come from S3.
    session.client("s3").put_object(Bucket=CODE_BUCKET, Key="template.json", Body=body.encode())
    cfn.create_stack(
        StackName=stack_name,
        TemplateURL=f"https://{CODE_BUCKET}.s3.amazonaws.com/template.json",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    for _ in range(120):
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [(e["LogicalResourceId"], e.get("ResourceStatusReason")) for e in events if "FAILED" in e["ResourceStatus"]]
        sys.exit(f"emulator: stack {stack['StackStatus']}: {failed}")
    resources = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    return stack, resources


def notification_configuration(resolved):
    """CloudFormation's NotificationConfiguration in the shape of PutBucketNotificationConfiguration."""
    return {
        "QueueConfigurations": [
            {
                "QueueArn": q["Queue"],
                "Events": [q["Event"]],
                "Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}},
            }
            for q in resolved.get("QueueConfigurations", [])
        ]
    }


def lifecycle_rule(rule):
    """A CloudFormation lifecycle rule in the shape of PutBucketLifecycleConfiguration."""
    out = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return out


def apply_bucket_properties(s3, bucket, props):
    """The bucket's properties that moto's CloudFormation left out, each read back first and put if missing."""
    def missing(get):
        try:
            get(Bucket=bucket)
            return False
        except s3.exceptions.ClientError:
            return True

    applied = []
    if "VersioningConfiguration" in props and s3.get_bucket_versioning(Bucket=bucket).get("Status") is None:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]})
        applied.append("VersioningConfiguration")
    if "BucketEncryption" in props and missing(s3.get_bucket_encryption):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"],
                       "BucketKeyEnabled": r.get("BucketKeyEnabled", False)}
                      for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]]})
        applied.append("BucketEncryption")
    if "PublicAccessBlockConfiguration" in props and missing(s3.get_public_access_block):
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
        applied.append("PublicAccessBlockConfiguration")
    if "OwnershipControls" in props and missing(s3.get_bucket_ownership_controls):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
        applied.append("OwnershipControls")
    if "LifecycleConfiguration" in props and missing(s3.get_bucket_lifecycle_configuration):
        rules = [lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
        applied.append("LifecycleConfiguration")
    if "NotificationConfiguration" in props:
        config = notification_configuration(props["NotificationConfiguration"])
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        applied.append("NotificationConfiguration")
    return applied


def apply_what_moto_skips(session, template, resolver):
    """Each resource or property moto's CloudFormation does not create, applied through the service's API."""
    applied = []
    for name, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        if kind == "AWS::S3::Bucket":
            applied += [f"{name}.{p}" for p in apply_bucket_properties(session.client("s3"), resolver.ref(name), resolver.resolve(props))]
        elif kind == "AWS::S3::BucketPolicy":
            p = resolver.resolve(props)
            session.client("s3").put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
            applied.append(name)
        elif kind == "AWS::SQS::QueuePolicy":
            p = resolver.resolve(props)
            for url in p["Queues"]:
                session.client("sqs").set_queue_attributes(
                    QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
                )
            applied.append(name)
        elif kind == "AWS::SNS::TopicPolicy":
            p = resolver.resolve(props)
            for arn in p["Topics"]:
                session.client("sns").set_topic_attributes(
                    TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(p["PolicyDocument"])
                )
            applied.append(name)
        elif kind == "AWS::SNS::Subscription":
            p = resolver.resolve(props)
            session.client("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"])
            applied.append(name)
        elif kind == "AWS::CloudWatch::Alarm":
            session.client("cloudwatch").put_metric_alarm(**resolver.resolve(props))
            applied.append(name)
        elif kind == "AWS::Lambda::Function":
            # moto's CloudFormation drops a function's layers. (It keeps no ephemeral storage setting either, not
            # even through the API: the tests read that one from the transformed template.)
            if "Layers" in props:
                layers = resolver.resolve(props["Layers"])
                session.client("lambda").update_function_configuration(FunctionName=resolver.ref(name), Layers=layers)
                applied.append(f"{name}.Layers")
    return applied


def policy_document(document):
    """A role policy as moto's CloudFormation stores it: the template's document printed as a Python literal, an
    `AWS::NoValue` statement left in as None. In AWS it is the JSON document, the statement gone."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = ast.literal_eval(document)
    document["Statement"] = [s for s in document["Statement"] if s is not None]
    return document


def read_back(session, stack, resources):
    """Every resource of the stack, as its service's API describes it."""
    by_type = {}
    for r in resources:
        by_type.setdefault(r["ResourceType"], []).append(r)
    lam, sqs, iam, s3 = (session.client(s) for s in ("lambda", "sqs", "iam", "s3"))
    out = {
        "stack": {
            "status": stack["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
            # What moto created; the resources it skipped are listed without a name.
            "resources": sorted(f"{r['LogicalResourceId']} {r['ResourceType']}" for r in resources if r["LogicalResourceId"]),
        },
        "functions": {},
        "queues": {},
        "event_source_mappings": lam.list_event_source_mappings()["EventSourceMappings"],
        "rules": [],
        "topics": [],
        "roles": {},
        "buckets": {},
        "log_groups": session.client("logs").describe_log_groups()["logGroups"],
        "alarms": session.client("cloudwatch").describe_alarms()["MetricAlarms"],
        "layers": lam.list_layers()["Layers"],
    }
    for r in by_type.get("AWS::Lambda::Function", []):
        name = r["PhysicalResourceId"]
        config = lam.get_function_configuration(FunctionName=name)
        config["ReservedConcurrentExecutions"] = lam.get_function_concurrency(FunctionName=name).get(
            "ReservedConcurrentExecutions"
        )
        out["functions"][r["LogicalResourceId"]] = config
    for r in by_type.get("AWS::SQS::Queue", []):
        url = r["PhysicalResourceId"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        out["queues"][r["LogicalResourceId"]] = {"QueueUrl": url, **attributes}
    events = session.client("events")
    for r in by_type.get("AWS::Events::Rule", []):
        rule = events.describe_rule(Name=r["PhysicalResourceId"])
        rule["Targets"] = events.list_targets_by_rule(Rule=r["PhysicalResourceId"])["Targets"]
        out["rules"].append(rule)
    sns = session.client("sns")
    for r in by_type.get("AWS::SNS::Topic", []):
        arn = r["PhysicalResourceId"]
        out["topics"].append(
            {
                "TopicArn": arn,
                "Attributes": sns.get_topic_attributes(TopicArn=arn)["Attributes"],
                "Subscriptions": sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"],
            }
        )
    for r in by_type.get("AWS::IAM::Role", []):
        name = r["PhysicalResourceId"]
        role = iam.get_role(RoleName=name)["Role"]
        policies = {
            p: policy_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        }
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
        out["roles"][r["LogicalResourceId"]] = {
            "Arn": role["Arn"],
            "RoleName": role["RoleName"],
            "AssumeRolePolicyDocument": role["AssumeRolePolicyDocument"],
            "Policies": policies,
            "AttachedPolicies": attached,
        }
    for r in by_type.get("AWS::S3::Bucket", []):
        name = r["PhysicalResourceId"]
        bucket = {"Name": name}
        bucket["Versioning"] = s3.get_bucket_versioning(Bucket=name).get("Status")
        bucket["Encryption"] = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        bucket["PublicAccessBlock"] = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        bucket["OwnershipControls"] = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]
        bucket["Lifecycle"] = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        notification = s3.get_bucket_notification_configuration(Bucket=name)
        bucket["Notification"] = {k: v for k, v in notification.items() if k != "ResponseMetadata"}
        bucket["Policy"] = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        out["buckets"][r["LogicalResourceId"]] = bucket
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack-name", default="redscribe")
    parser.add_argument("--template", default=TEMPLATE)
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.param)
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint  # every client at the emulator
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    template = transformed(args.template, parameters, session.client("s3"))
    stack, resources = create_stack(session, args.stack_name, template, parameters)
    resolver = Resolver(session, args.stack_name, resources, template, parameters)
    applied = apply_what_moto_skips(session, template, resolver)
    out = read_back(session, stack, resources)
    out["transformed"] = template
    # The functions' properties as CloudFormation takes them: intrinsics resolved, conditions applied.
    out["resolved_functions"] = {
        name: resolver.resolve(r["Properties"])
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and ("Condition" not in r or resolver.condition(r["Condition"]))
    }
    # What CloudFormation in AWS would create: every resource whose condition holds.
    out["stack"]["resource_count"] = sum(
        1 for r in template["Resources"].values() if "Condition" not in r or resolver.condition(r["Condition"])
    )
    out["applied_through_api"] = applied
    json.dump(out, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
