"""Neutron's error types (the class name is the NeutronError "type")."""
from onestack import errors


class HTTPBadRequest(errors.BadRequest):
    pass


class InvalidInput(errors.BadRequest):
    message = "Invalid input for operation: {error_message}."


class NetworkNotFound(errors.NotFound):
    message = "Network {id} could not be found."


class SubnetNotFound(errors.NotFound):
    message = "Subnet {id} could not be found."


class PortNotFound(errors.NotFound):
    message = "Port {id} could not be found."


class RouterNotFound(errors.NotFound):
    message = "Router {id} could not be found."


class FloatingIPNotFound(errors.NotFound):
    message = "Floating IP {id} could not be found."


class SecurityGroupNotFound(errors.NotFound):
    message = "Security group {id} does not exist."


class SecurityGroupRuleNotFound(errors.NotFound):
    message = "Security group rule {id} does not exist."


class HTTPNotFound(errors.NotFound):
    pass


class IpAddressGenerationFailure(errors.Conflict):
    message = "No more IP addresses available on network {net_id}."


class IpAddressInUse(errors.Conflict):
    message = "Unable to complete operation for network {net_id}. The IP address {ip_address} is in use."


class MacAddressInUse(errors.Conflict):
    message = "Unable to complete operation for network {net_id}. The mac address {mac} is in use."


class NetworkInUse(errors.Conflict):
    message = "Unable to complete operation on network {net_id}. There are one or more ports still in use on the network."


class SubnetInUse(errors.Conflict):
    message = "Unable to complete operation on subnet {subnet_id}: One or more ports have an IP allocation from this subnet."


class PortInUse(errors.Conflict):
    message = "Unable to complete operation on port {port_id} for network {net_id}. Port already has an attached device {device_id}."


class RouterInUse(errors.Conflict):
    message = "Router {router_id} {reason}"


class RouterInterfaceNotFoundForSubnet(errors.NotFound):
    message = "Router {router_id} has no interface on subnet {subnet_id}"


class RouterInterfaceNotFound(errors.NotFound):
    message = "Router {router_id} does not have an interface with id {port_id}"


class SecurityGroupRuleExists(errors.Conflict):
    message = "Security group rule already exists. Rule id is {rule_id}."


class SecurityGroupInUse(errors.Conflict):
    message = "Security Group {id} in use."


class SecurityGroupCannotRemoveDefault(errors.Conflict):
    message = "Insufficient rights for removing default security group."


class OverQuota(errors.Conflict):
    message = "Quota exceeded for resources: {overs}."


class Conflict(errors.Conflict):
    pass


class ExternalGatewayForFloatingIPNotFound(errors.NotFound):
    message = ("External network {external_network_id} is not reachable from subnet {subnet_id}. "
               "Therefore, cannot associate Port {port_id} with a Floating IP.")


class FloatingIPPortAlreadyAssociated(errors.Conflict):
    message = ("Cannot associate floating IP {floating_ip_address} ({fip_id}) with port {port_id} using "
               "fixed IP {fixed_ip}, as that fixed IP already has a floating IP on external network {net_id}.")


class TagNotFound(errors.NotFound):
    message = "Tag {tag} could not be found."


class InUse(errors.Conflict):
    pass


class PolicyNotAuthorized(errors.Forbidden):
    message = "({rule}) is disallowed by policy"


class SegmentNotFound(errors.NotFound):
    message = "Segment {id} could not be found."


class SegmentInUse(errors.Conflict):
    message = "Segment '{id}' cannot be deleted: {reason}."
